"""The OpenAPI 3.1 document of auth_svc, served at /openapi.json: every endpoint, request, response and the
problem+json errors with their stable codes."""

from __future__ import annotations

from typing import Any

from servicekit.openapi import PROBLEM_SCHEMA, READINESS_SCHEMA, SECURITY_SCHEMES, problem


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


_BODY_ERRORS = {
    "400": problem("`malformed_json`: the body is not valid JSON."),
    "413": problem("`request_too_large`: the body is over 1 MiB."),
    "415": problem("`unsupported_media_type`: the body is not `application/json`."),
    "422": problem("`validation_error`: a field is missing or invalid; `errors` names each field."),
}

_CHALLENGE = {"WWW-Authenticate": {"description": "Bearer challenge.", "schema": {"type": "string"}}}

_SCHEMAS: dict[str, Any] = {
    "RegisterRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["email", "password"],
        "properties": {
            "email": {
                "type": "string",
                "format": "email",
                "maxLength": 254,
                "description": "Trimmed and lower-cased; unique regardless of letter case.",
            },
            "password": {"type": "string", "minLength": 8, "maxLength": 1024},
            "name": {"type": ["string", "null"], "maxLength": 200, "description": "Blank is stored as null."},
        },
    },
    "LoginRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["email", "password"],
        "properties": {
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "password": {"type": "string", "minLength": 1, "maxLength": 1024},
        },
    },
    "PasswordChange": {
        "type": "object",
        "additionalProperties": False,
        "required": ["current_password", "new_password"],
        "properties": {
            "current_password": {"type": "string", "minLength": 1, "maxLength": 1024},
            "new_password": {"type": "string", "minLength": 8, "maxLength": 1024, "description": "As at registration."},
        },
    },
    "AccountDeletion": {
        "type": "object",
        "additionalProperties": False,
        "required": ["password"],
        "properties": {"password": {"type": "string", "minLength": 1, "maxLength": 1024}},
    },
    "AccountDeleted": {
        "type": "object",
        "required": ["user_id", "deleted_at"],
        "properties": {
            "user_id": {"type": "string", "format": "uuid"},
            "deleted_at": {"type": "string", "format": "date-time"},
        },
    },
    "User": {
        "type": "object",
        "required": ["id", "email", "name", "created_at"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "email": {"type": "string", "format": "email"},
            "name": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "Token": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in"],
        "properties": {
            "access_token": {"type": "string", "description": "RS256 JWT; header `kid` names the key."},
            "token_type": {"const": "Bearer"},
            "expires_in": {"type": "integer", "minimum": 1, "description": "Seconds."},
        },
    },
    "Session": {
        "type": "object",
        "required": ["user", "expires_at", "expires_in"],
        "description": "The signed-in user and when the session's token expires; the token itself is only in the "
        "HttpOnly cookie.",
        "properties": {
            "user": _ref("User"),
            "expires_at": {"type": "string", "format": "date-time"},
            "expires_in": {"type": "integer", "minimum": 0, "description": "Seconds."},
        },
    },
    "JWKS": {
        "type": "object",
        "required": ["keys"],
        "properties": {
            "keys": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["kty", "kid", "use", "alg", "n", "e"],
                    "properties": {
                        "kty": {"const": "RSA"},
                        "kid": {"type": "string"},
                        "use": {"const": "sig"},
                        "alg": {"const": "RS256"},
                        "n": {"type": "string"},
                        "e": {"type": "string"},
                    },
                },
            }
        },
    },
    "Problem": PROBLEM_SCHEMA,
    "Readiness": READINESS_SCHEMA,
}

_PATHS: dict[str, Any] = {
    "/register": {
        "post": {
            "operationId": "register",
            "summary": "Create an account; announces `auth.user.registered.v1`.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("RegisterRequest")}}},
            "responses": {
                "201": _json(_ref("User"), "The new user."),
                "409": problem("`email_taken`: an account with this e-mail (in any letter case) exists."),
                "429": problem(
                    "`too_many_registrations`: too many accounts made from this client address in the last hour.",
                    {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}},
                ),
                **_BODY_ERRORS,
            },
        }
    },
    "/login": {
        "post": {
            "operationId": "login",
            "summary": "Exchange e-mail and password for an access token.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("LoginRequest")}}},
            "responses": {
                "200": _json(_ref("Token"), "An access token."),
                "401": problem(
                    "`invalid_credentials`: wrong password or unknown e-mail (indistinguishable).", _CHALLENGE
                ),
                "429": problem(
                    "`too_many_attempts`: too many failures for this account or client address.",
                    {
                        "Retry-After": {
                            "description": "Seconds to wait.",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    },
                ),
                **_BODY_ERRORS,
            },
        }
    },
    "/me": {
        "get": {
            "operationId": "me",
            "summary": "The user the access token belongs to.",
            "security": [{"bearer": []}, {"session": []}],
            "responses": {
                "200": _json(_ref("User"), "The current user."),
                "401": problem("`missing_token`, `invalid_token` or `token_revoked`.", _CHALLENGE),
            },
        }
    },
    "/session": {
        "post": {
            "operationId": "startSession",
            "summary": "Sign a browser in: the login, answered with an HttpOnly session cookie.",
            "description": "Same checks and throttling as `/login`. Must come from a page of this origin "
            "(Sec-Fetch-Site: same-origin, or an Origin equal to the Host).",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("LoginRequest")}}},
            "responses": {
                "200": _json(_ref("Session"), "Signed in; `Set-Cookie` carries the session."),
                "401": problem("`invalid_credentials`.", _CHALLENGE),
                "403": problem("`cross_origin_request`: not sent by a page of this origin."),
                "429": problem("`too_many_attempts`."),
                **_BODY_ERRORS,
            },
        },
        "get": {
            "operationId": "currentSession",
            "summary": "The session's user and expiry.",
            "security": [{"session": []}, {"bearer": []}],
            "responses": {
                "200": _json(_ref("Session"), "The session."),
                "401": problem("`missing_token`, `invalid_token` or `token_revoked`.", _CHALLENGE),
            },
        },
        "delete": {
            "operationId": "endSession",
            "summary": "Sign out: the session cookie is cleared and its token revoked on every service.",
            "responses": {
                "204": {"description": "Signed out."},
                "403": problem("`cross_origin_request`."),
            },
        },
    },
    "/session/refresh": {
        "post": {
            "operationId": "refreshSession",
            "summary": "A new session token, for as long as the session's maximum age since the password allows.",
            "security": [{"session": []}, {"bearer": []}],
            "responses": {
                "200": _json(_ref("Session"), "Refreshed; `Set-Cookie` carries the new token."),
                "401": problem("`missing_token`, `invalid_token`, `token_revoked` or `session_expired`.", _CHALLENGE),
                "403": problem("`cross_origin_request`."),
            },
        }
    },
    "/logout": {
        "post": {
            "operationId": "logout",
            "summary": "Revoke the presented access token on every service until it expires.",
            "description": "Other services learn it from `auth.token.revoked.v1` within moments; they then answer "
            "401 `token_revoked`. A session cookie presented instead of a bearer token is also cleared.",
            "security": [{"bearer": []}, {"session": []}],
            "responses": {
                "204": {"description": "Revoked."},
                "401": problem("`missing_token`, `invalid_token` or `token_revoked`.", _CHALLENGE),
                "403": problem("`cross_origin_request`."),
            },
        }
    },
    "/password": {
        "post": {
            "operationId": "changePassword",
            "summary": "Change the password; every other token of the user is revoked.",
            "description": "The current password is checked and throttled as logins are. A bearer caller gets a "
            "fresh token (200, as `/login` answers); a session caller gets a fresh session cookie (204).",
            "security": [{"bearer": []}, {"session": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("PasswordChange")}}},
            "responses": {
                "200": _json(_ref("Token"), "Changed (bearer caller): the fresh token."),
                "204": {"description": "Changed (session caller): `Set-Cookie` carries the fresh session."},
                "401": problem("`missing_token`, `invalid_token` or `token_revoked`.", _CHALLENGE),
                "403": problem("`wrong_password`: the current password is wrong; or `cross_origin_request`."),
                "429": problem("`too_many_attempts`: too many wrong passwords; `Retry-After` says when to retry."),
                **_BODY_ERRORS,
            },
        }
    },
    "/account": {
        "delete": {
            "operationId": "deleteAccount",
            "summary": "Delete the account, confirmed with its password.",
            "description": "The user is deleted and every token revoked at once; the other services delete the "
            "user's videos and their files, the e-mail recipient record and the webhook endpoints when "
            "`auth.user.deleted.v1` reaches them (hence 202). The session cookie is cleared.",
            "security": [{"bearer": []}, {"session": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("AccountDeletion")}}},
            "responses": {
                "202": _json(_ref("AccountDeleted"), "Deleted here; the rest follows."),
                "401": problem("`missing_token`, `invalid_token` or `token_revoked`.", _CHALLENGE),
                "403": problem("`wrong_password`, or `cross_origin_request`."),
                "429": problem("`too_many_attempts`."),
                **_BODY_ERRORS,
            },
        }
    },
    "/.well-known/jwks.json": {
        "get": {
            "operationId": "jwks",
            "summary": "The public keys that verify access tokens, by `kid`.",
            "responses": {"200": _json(_ref("JWKS"), "JSON Web Key Set.")},
        }
    },
    "/healthz": {
        "get": {
            "operationId": "healthz",
            "summary": "The process is alive.",
            "responses": {
                "200": _json({"type": "object", "properties": {"status": {"const": "ok"}}}, "Alive."),
            },
        }
    },
    "/readyz": {
        "get": {
            "operationId": "readyz",
            "summary": "The database and the broker are usable.",
            "responses": {
                "200": _json(_ref("Readiness"), "Ready."),
                "503": _json(_ref("Readiness"), "A dependency is unavailable."),
            },
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics.",
            "responses": {"200": {"description": "Prometheus text format.", "content": {"text/plain": {}}}},
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document.",
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document.")},
        }
    },
}

OPENAPI_SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "framepipe auth_svc",
        "version": "1.0.0",
        "description": "Registration, login and RS256 access tokens that every framepipe service verifies locally.",
    },
    "servers": [{"url": "/"}],
    "paths": _PATHS,
    "components": {
        "schemas": _SCHEMAS,
        "securitySchemes": SECURITY_SCHEMES,
    },
}
