"""Local fakes of the cloud services Cloustral talks to, for tests and the demo."""
