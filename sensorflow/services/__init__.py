"""One module per serverless function (ingest, notify, incidents, heartbeat), plus what they share:
the alarm evaluator, operator actions and the outbox."""
