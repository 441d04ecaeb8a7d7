"""One module per AWS service role. Each adapter takes an optional boto3 client; the default comes
from ``sensorflow.adapters.clients`` (cached, retry mode ``standard``). ``ClientError`` and
``BotoCoreError`` become ``TransientError`` here, with ``raise ... from``."""
