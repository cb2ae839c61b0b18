// window.renderCard(card) renders one card into #card and reports what went wrong.
// The host config follows Teams' light theme (fonts, sizes, colours, spacing).
"use strict";

const TEAMS_HOST_CONFIG = {
  fontFamily: "'Segoe UI', system-ui, 'Helvetica Neue', sans-serif",
  supportsInteractivity: true,
  spacing: { small: 4, default: 8, medium: 12, large: 16, extraLarge: 24, padding: 16 },
  separator: { lineThickness: 1, lineColor: "#E0E0E0" },
  fontSizes: { small: 12, default: 14, medium: 14, large: 18, extraLarge: 24 },
  fontWeights: { lighter: 200, default: 400, bolder: 600 },
  containerStyles: {
    default: {
      backgroundColor: "#FFFFFF",
      foregroundColors: {
        default: { default: "#242424", subtle: "#616161" },
        dark: { default: "#252423", subtle: "#484644" },
        light: { default: "#FFFFFF", subtle: "#FFF3F0F0" },
        accent: { default: "#5B5FC7", subtle: "#7F85F5" },
        good: { default: "#237B4B", subtle: "#13A10E" },
        warning: { default: "#835B00", subtle: "#C19C00" },
        attention: { default: "#C4314B", subtle: "#D13438" },
      },
    },
  },
  actions: {
    maxActions: 6, spacing: "default", buttonSpacing: 8, showCard: { actionMode: "inline" },
    actionsOrientation: "horizontal", actionAlignment: "left",
  },
  factSet: {
    title: { weight: "bolder", wrap: true, maxWidth: 150 },
    value: { wrap: true }, spacing: 12,
  },
};

function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

// Teams turns <at>Name</at> into a highlighted mention when the card's msteams.entities
// name it; anything else stays literal text.
function mentionMarker(card) {
  const entities = (card.msteams && card.msteams.entities) || [];
  return (html) => entities.reduce((out, entity) => {
    const shown = escapeHtml(entity.text);
    const name = escapeHtml(entity.text.replace(/^<at>|<\/at>$/g, ""));
    return out.split(shown).join(`<span class="mention">${name}</span>`);
  }, html);
}

window.renderCard = function renderCard(cardJson) {
  const markdown = window.markdownit({ html: false, linkify: false, breaks: false });
  const mark = mentionMarker(cardJson);
  AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
    result.outputHtml = mark(markdown.render(text));
    result.didProcess = true;
  };
  const card = new AdaptiveCards.AdaptiveCard();
  card.hostConfig = new AdaptiveCards.HostConfig(TEAMS_HOST_CONFIG);
  const context = new AdaptiveCards.SerializationContext();
  card.parse(cardJson, context);
  const problems = [];
  for (let i = 0; i < context.eventCount; i++) {
    const e = context.getEventAt(i);
    problems.push(`parse: ${AdaptiveCards.ValidationEvent[e.event]}: ${e.message}`);
  }
  for (const issue of card.validateProperties().validationEvents) {
    problems.push(`validate: ${AdaptiveCards.ValidationEvent[issue.event]}: ${issue.message}`);
  }
  const host = document.getElementById("card");
  host.replaceChildren();
  const element = card.render();
  if (element) {
    host.appendChild(element);
  }
  return {
    problems,
    rendered: Boolean(element),
    text: element ? element.innerText : "",
    height: element ? element.getBoundingClientRect().height : 0,
    buttons: Array.from(host.querySelectorAll("button")).map((b) => b.innerText),
    inputs: host.querySelectorAll("input, textarea, select").length,
  };
};
