"""Small real HTTP servers that speak Twilio's, FCM's and a brand webhook's wire formats, and can be told to fail."""
