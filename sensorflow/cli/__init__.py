"""The ``sensorflow`` command line. Runs outside Lambda; never packaged."""
