"""Users imported from a Supabase project sign in with their old passwords through the real
supabase-py client, and row-level security imported with them scopes what they read.

Environment: SUPABASE_URL, SUPABASE_ANON_KEY (the imported project's).
"""
import os
import sys

from supabase import create_client


def main() -> int:
    url, anon = os.environ["SUPABASE_URL"], os.environ["SUPABASE_ANON_KEY"]
    client = create_client(url, anon)
    session = client.auth.sign_in_with_password({"email": "user1@example.com", "password": "password-1"})
    assert session.user is not None and session.user.email == "user1@example.com", session
    assert session.user.id == "00000000-0000-4000-8000-000000000001", session.user.id
    # The "own todos" policy (owner = auth.uid()) came over: user 1 owns every fifth of 3000 todos.
    todos = client.table("todos").select("id, owner", count="exact").limit(1).execute()
    assert todos.count == 600, todos.count
    profile = client.table("profiles").select("full_name").eq("id", session.user.id).single().execute()
    assert profile.data["full_name"] == "User 1", profile.data
    # A write through the imported policy and the identity carried over.
    added = client.table("todos").insert({"owner": session.user.id, "title": "after the move"}).execute()
    assert added.data[0]["id"] == 3001, added.data
    client.auth.sign_out()

    # A wrong password is refused as before.
    other = create_client(url, anon)
    try:
        other.auth.sign_in_with_password({"email": "user2@example.com", "password": "password-1"})
    except Exception as error:  # AuthApiError
        assert "invalid" in str(error).lower(), error
    else:
        raise AssertionError("a wrong password signed in")
    # The sign-up trigger came over: a new user gets a profile.
    fresh = create_client(url, anon)
    signed_up = fresh.auth.sign_up({"email": "new@example.com", "password": "a-new-password-1", "options": {"data": {"full_name": "Newcomer"}}})
    assert signed_up.user is not None, signed_up
    print("imported users sign in; RLS and the sign-up trigger hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
