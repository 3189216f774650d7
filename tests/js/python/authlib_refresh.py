"""Refreshes a token with Authlib's OAuth2Session (requests), as a Python
client no one here wrote would: argv = token endpoint URL, client id, client
secret, refresh token. Prints the token response as JSON; exits non-zero
with the error otherwise."""
import json
import os
import sys

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback only

from authlib.integrations.requests_client import OAuth2Session  # noqa: E402

url, client_id, client_secret, refresh_token = sys.argv[1:5]
session = OAuth2Session(client_id, client_secret, token_endpoint_auth_method="client_secret_basic")
token = session.refresh_token(url, refresh_token=refresh_token)
print(json.dumps(dict(token)))
