"""Outside systems, each behind a small Protocol and chosen by configuration."""
