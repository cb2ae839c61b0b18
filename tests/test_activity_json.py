"""The fast activity conversion yields what msrest's (slow) one does."""

from __future__ import annotations

from botbuilder.schema import Activity, Attachment

from bot.teams.activity_json import activity_from_dict, to_json
from tests.fakes import activities as teams


def test_parsing_matches_msrest_for_a_teams_channel_message():
    data = teams.channel_message("https://smba.trafficmanager.net/amer/", "<at>incident</at> help",
                                 mentions=[teams.GRACE])

    fast = activity_from_dict(data)
    slow = Activity().deserialize(data)

    for attr in ("type", "id", "service_url", "channel_id", "text", "locale", "channel_data"):
        assert getattr(fast, attr) == getattr(slow, attr), attr
    assert fast.timestamp == slow.timestamp
    assert fast.from_property.id == slow.from_property.id
    assert fast.from_property.aad_object_id == slow.from_property.aad_object_id
    assert fast.conversation.conversation_type == slow.conversation.conversation_type
    assert fast.conversation.tenant_id == slow.conversation.tenant_id
    assert fast.recipient.id == slow.recipient.id
    assert [e.type for e in fast.entities] == [e.type for e in slow.entities]
    assert fast.entities[1].additional_properties["mentioned"]["id"] == teams.GRACE.id


def test_serialising_matches_msrest_for_a_card_reply():
    activity = Activity(
        type="message", text="hi", reply_to_id="1",
        attachments=[Attachment(content_type="application/vnd.microsoft.card.adaptive",
                                content={"type": "AdaptiveCard", "body": []})],
    )

    assert to_json(activity) == activity.serialize()


def test_round_trip_keeps_unknown_fields():
    data = teams.installation_update("https://smba.trafficmanager.net/emea/")
    data["someFutureField"] = {"x": 1}

    again = to_json(activity_from_dict(data))

    assert again["someFutureField"] == {"x": 1}
    assert again["action"] == "add"
    assert again["channelData"] == data["channelData"]


def test_fields_of_the_wrong_shape_are_read_as_missing():
    data = teams.conversation_update("https://smba.trafficmanager.net/emea/",
                                     added=[{"id": teams.BOT_ID}])
    data.update({"recipient": "28:not-an-object", "timestamp": "yesterday",
                 "membersRemoved": [None, {"id": "29:gone"}]})

    activity = activity_from_dict(data)

    assert activity.recipient is None
    assert activity.timestamp is None
    assert activity.members_added[0].id == teams.BOT_ID
    assert activity.members_removed[0] is None
    assert activity.members_removed[1].id == "29:gone"
    assert activity.text is None  # absent fields exist, as on msrest's own models
