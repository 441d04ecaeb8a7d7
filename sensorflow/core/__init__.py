"""Pure domain code: records, decoding, checks, enrichment and rules.

Nothing here imports boto3, botocore or Powertools (a unit test enforces it), so it runs in
milliseconds with no network and can be reasoned about on its own.
"""
