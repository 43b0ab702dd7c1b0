"""The test suite, one folder per concern; shared helpers in `tests/helpers/`."""
