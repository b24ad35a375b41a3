#!/usr/bin/env python3
"""The data API's mailed auth flows driven by the real supabase-py client, against a project whose
auth mail goes to a local SMTP server (aiosmtpd, STARTTLS and AUTH; Tests/AlertReceivers): sign-up
with confirmation, magic links followed as a browser follows them, passwordless codes, password
recovery, resends, invitations and generated links, an email change confirmed at both addresses,
and the refusals (a reused code, a foreign
redirect, the mail rate limit).

Environment: SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY (the project), MAILBOX (the
receivers' received.jsonl), SITE_URL (the project's site URL).
Prints `PASS name` or `FAIL name: why` per check and exits 1 when any failed.
"""

import base64
import json
import os
import re
import time
import urllib.parse
import uuid

import httpx
from supabase import ClientOptions, create_client

from auth_checks import auth_fails, check, equal, finish, fragment

URL = os.environ["SUPABASE_URL"].rstrip("/")
ANON = os.environ["SUPABASE_ANON_KEY"]
SERVICE = os.environ["SUPABASE_SERVICE_ROLE_KEY"]
MAILBOX = os.environ["MAILBOX"]
SITE_URL = os.environ["SITE_URL"]
RUN = uuid.uuid4().hex[:8]
HTTP = httpx.Client(timeout=30, follow_redirects=False)


def client(key=ANON, flow="implicit"):
    return create_client(URL, key, ClientOptions(auto_refresh_token=False, persist_session=False, flow_type=flow))


def address(name):
    return f"{name}-{RUN}@example.com"


def mails_to(email):
    """The messages received for `email`, oldest first, as (subject, decoded body)."""
    found = []
    try:
        lines = open(MAILBOX).read().splitlines()
    except FileNotFoundError:
        return found
    for line in lines:
        entry = json.loads(line)
        if entry.get("channel") != "smtp" or email not in entry.get("to", []):
            continue
        head, _, body = entry["message"].partition("\r\n\r\n")
        subject = re.search(r"^Subject: ([^\r\n]*)", head, re.M).group(1)
        found.append((subject, base64.b64decode(body.replace("\r\n", "")).decode()))
    return found


def next_mail(email, seen):
    """Waits for the message after the first `seen` ones to `email`; returns (subject, link, code)."""
    deadline = time.time() + 30
    while time.time() < deadline:
        mails = mails_to(email)
        if len(mails) > seen:
            subject, body = mails[seen]
            link = re.search(r"^(https?://\S+)$", body, re.M).group(1)
            code = re.search(r"code: (\d{6})", body).group(1)
            return subject, link, code
        time.sleep(0.2)
    raise AssertionError(f"no mail #{seen + 1} to {email} within 30 s")










@check("sign-up with confirmation: no session, no password sign-in until the mailed code is verified, once")
def _():
    email = address("signup")
    response = client().auth.sign_up({"email": email, "password": "correct-horse-1"})
    equal(response.session, None, "session after sign-up")
    equal(response.user.email, email, "user")
    auth_fails(lambda: client().auth.sign_in_with_password({"email": email, "password": "correct-horse-1"}), 400, "email_not_confirmed")
    subject, link, code = next_mail(email, 0)
    equal(subject, "Confirm your signup", "subject")
    equal(link.startswith(URL + "/auth/v1/verify?"), True, f"link {link}")
    verified = client().auth.verify_otp({"email": email, "token": code, "type": "email"})
    equal(verified.user.email, email, "verified user")
    equal(verified.user.email_confirmed_at is not None, True, "confirmed")
    auth_fails(lambda: client().auth.verify_otp({"email": email, "token": code, "type": "email"}), 403, "otp_expired")
    signed_in = client().auth.sign_in_with_password({"email": email, "password": "correct-horse-1"})
    equal(signed_in.user.email, email, "password sign-in after confirming")


@check("resend mails the pending confirmation again; the newest code works")
def _():
    email = address("resend")
    client().auth.sign_up({"email": email, "password": "correct-horse-1"})
    next_mail(email, 0)
    auth_fails(lambda: client().auth.resend({"type": "signup", "email": email}), 429, "over_email_send_rate_limit")


@check("a magic link followed as a browser follows it: 303 to the allowed redirect with the session in the fragment")
def _():
    email = address("magic")
    client().auth.sign_in_with_otp({"email": email, "options": {"email_redirect_to": SITE_URL + "/welcome"}})
    subject, link, _ = next_mail(email, 0)
    equal(subject, "Confirm your signup", "a new address confirms first")
    answer = HTTP.get(link)
    equal(answer.status_code, 303, "status")
    location = answer.headers["location"]
    equal(location.startswith(SITE_URL + "/welcome#access_token="), True, f"location {location}")
    session = fragment(location)
    equal(session["token_type"], "bearer", "token type")
    user = client().auth.get_user(session["access_token"]).user
    equal(user.email, email, "the fragment's token is the user's")
    again = HTTP.get(link)
    equal(fragment(again.headers["location"]).get("error_code"), "otp_expired", "a followed link does not work twice")

    # The user exists now: the next request is a magic link proper, verified by its code.
    client().auth.sign_in_with_otp({"email": email, "options": {"should_create_user": False}})
    subject, _, code = next_mail(email, 1)
    equal(subject, "Your Magic Link", "subject")
    equal(client().auth.verify_otp({"email": email, "token": code, "type": "magiclink"}).user.email, email, "signed in by code")


@check("PKCE (as @supabase/ssr signs in): the link redirects with a code, and only the client that asked exchanges it")
def _():
    email = address("pkce")
    app = client(flow="pkce")
    app.auth.sign_in_with_otp({"email": email, "options": {"email_redirect_to": SITE_URL + "/auth/callback"}})
    _, link, _ = next_mail(email, 0)
    location = HTTP.get(link).headers["location"]
    equal(location.startswith(SITE_URL + "/auth/callback?code="), True, f"location {location}")
    equal("access_token" in location, False, "no session in the redirect")
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["code"][0]
    auth_fails(lambda: client(flow="pkce").auth.exchange_code_for_session({"auth_code": code, "code_verifier": "x" * 50}), 400, "bad_code_verifier")
    session = app.auth.exchange_code_for_session({"auth_code": code}).session
    equal(client().auth.get_user(session.access_token).user.email, email, "the exchanged session is the user's")


@check("a redirect outside the allow list goes to the site URL instead")
def _():
    email = address("foreign")
    client().auth.sign_in_with_otp({"email": email, "options": {"email_redirect_to": "https://evil.example/steal"}})
    _, link, _ = next_mail(email, 0)
    equal(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))["redirect_to"], SITE_URL, "redirect in the mailed link")
    equal(HTTP.get(link).headers["location"].startswith(SITE_URL + "#access_token="), True, "where the link leads")


@check("without create_user an unknown address is refused")
def _():
    auth_fails(lambda: client().auth.sign_in_with_otp({"email": address("nobody"), "options": {"should_create_user": False}}), 422, "otp_disabled")


@check("password recovery: mailed to known users only; its session sets a new password")
def _():
    unknown = address("unknown")
    client().auth.reset_password_for_email(unknown)
    time.sleep(1)
    equal(mails_to(unknown), [], "no mail for an unknown address")
    email = address("recover")
    admin = client(SERVICE).auth.admin
    admin.create_user({"email": email, "password": "old-password-1", "email_confirm": True})
    client().auth.reset_password_for_email(email, {"redirect_to": SITE_URL + "/reset"})
    subject, link, code = next_mail(email, 0)
    equal(subject, "Reset Your Password", "subject")
    app = client()
    session = app.auth.verify_otp({"email": email, "token": code, "type": "recovery"}).session
    app.auth.set_session(session.access_token, session.refresh_token)
    app.auth.update_user({"password": "new-password-2"})
    auth_fails(lambda: client().auth.sign_in_with_password({"email": email, "password": "old-password-1"}), 400, "invalid_credentials")
    equal(client().auth.sign_in_with_password({"email": email, "password": "new-password-2"}).user.email, email, "new password")


@check("invitations by mail and generated links, with the service_role key only")
def _():
    email = address("invite")
    auth_fails(lambda: client(ANON).auth.admin.invite_user_by_email(email), 403, "not_admin")
    invited = client(SERVICE).auth.admin.invite_user_by_email(email, {"data": {"team": "core"}})
    equal(invited.user.invited_at is not None, True, "invited_at")
    subject, link, _ = next_mail(email, 0)
    equal(subject, "You have been invited", "subject")
    equal(fragment(HTTP.get(link).headers["location"]).get("type"), "invite", "the invitation signs in")

    other = address("generated")
    client(SERVICE).auth.admin.create_user({"email": other, "password": "some-password-1", "email_confirm": True})
    generated = client(SERVICE).auth.admin.generate_link({"type": "magiclink", "email": other})
    equal(generated.properties.verification_type, "magiclink", "type")
    equal(generated.properties.action_link.startswith(URL + "/auth/v1/verify?"), True, "action link")
    equal(mails_to(other), [], "generate_link mails nothing")
    signed = client().auth.verify_otp({"email": other, "token": generated.properties.email_otp, "type": "magiclink"})
    equal(signed.user.email, other, "the generated code signs in")


@check("an email change is confirmed at the current and the new address (secure email change); the first link says so")
def _():
    email, moved = address("change"), address("changed")
    client(SERVICE).auth.admin.create_user({"email": email, "password": "change-password-1", "email_confirm": True})
    app = client()
    signed = app.auth.sign_in_with_password({"email": email, "password": "change-password-1"}).session
    app.auth.set_session(signed.access_token, signed.refresh_token)
    updated = app.auth.update_user({"email": moved})
    equal((updated.user.email, updated.user.new_email), (email, moved), "pending change")
    subject, current_link, _ = next_mail(email, 0)
    equal(subject, "Confirm Change of Email", "subject at the current address")
    body = mails_to(email)[0][1]
    equal(f"from {email} to {moved}" in body, True, "the mail names both addresses")
    _, _, new_code = next_mail(moved, 0)
    # The current address's link first: GoTrue's message in the redirect, the email not changed yet.
    location = HTTP.get(current_link).headers["location"]
    equal(fragment(location).get("message"), "Confirmation link accepted. Please proceed to confirm link sent to the other email", location)
    equal(app.auth.get_user().user.email, email, "not changed after one confirmation")
    verified = client().auth.verify_otp({"email": moved, "token": new_code, "type": "email_change"})
    equal((verified.user.email, verified.session is not None), (moved, True), "changed after both")
    equal(client().auth.sign_in_with_password({"email": moved, "password": "change-password-1"}).user.email, moved, "signs in at the new address")


finish()
