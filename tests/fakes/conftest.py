from tests.fakes.fixtures import fake_fcm, fake_twilio, fake_webhook

__all__ = ["fake_fcm", "fake_twilio", "fake_webhook"]
