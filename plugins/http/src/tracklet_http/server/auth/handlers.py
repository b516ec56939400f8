"""The users and permissions API's calls: checked fields in, MLflow's JSON out.

Each handler takes the process's :class:`~tracklet_http.server.auth.service.AuthService`,
the authenticated caller and the request's fields (query parameters or JSON body), checks
that the caller may make the call, and returns the answer as a dict. Who may call what is
listed in :mod:`tracklet_http.server.auth.routes`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracklet.exceptions import (
    BAD_REQUEST,
    INVALID_PARAMETER_VALUE,
    PERMISSION_DENIED,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)
from tracklet.validation import canonical_experiment_id

from .permissions import grantable
from .service import AuthService, Caller, check_name, check_password
from .store import MAX_MODEL_NAME, User

Data = dict[str, Any]
Handler = Callable[[AuthService, Caller, Data], Data]


# -- request fields -----------------------------------------------------------------------------


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


def _required(data: Data, name: str) -> Any:
    value = data.get(name)
    if value is None or value == "":
        raise _bad(f"Missing value for required parameter '{name}'.")
    return value


def _username(data: Data, name: str = "username") -> str:
    return check_name(_required(data, name), name, username=True)


def _experiment_id(data: Data, name: str = "experiment_id") -> str:
    # the tracking API's rule: one spelling per experiment, so a grant on "01" cannot be
    # made for (or mistaken for) experiment 1
    return canonical_experiment_id(_required(data, name), name)


def _bool(data: Data, name: str) -> bool:
    value = _required(data, name)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _bad(f"Invalid value for parameter '{name}': expected true or false.")


def _denied(message: str) -> TrackletException:
    return TrackletException(f"Permission denied: {message}", PERMISSION_DENIED)


def _admin_only(caller: Caller, what: str) -> None:
    if not caller.is_admin:
        raise _denied(f"only admins may {what}.")


def _user_json(user: User, service: AuthService) -> Data:
    return {
        "id": user.id,
        "username": user.username,
        "is_admin": user.is_admin,
        # MLflow 2's client reads these two lists; MLflow 3's ignores them.
        "experiment_permissions": [g.to_json() for g in service.store.grants_of(user.id)],
        "registered_model_permissions": [g.to_json() for g in service.store.model_grants_of(user.id)],
    }


def _require_manage(service: AuthService, caller: Caller, experiment_id: str) -> None:
    if not service.permission(caller, experiment_id).can_manage:
        raise _denied(f"managing permissions needs MANAGE permission on experiment {experiment_id}.")


# -- users --------------------------------------------------------------------------------------


def create_user(service: AuthService, caller: Caller, data: Data) -> Data:
    _admin_only(caller, "create users")
    username = _username(data)
    password = check_password(_required(data, "password"))
    user = service.store.create_user(username, service.hash_password(password))
    return {"user": _user_json(user, service)}


def get_user(service: AuthService, caller: Caller, data: Data) -> Data:
    username = _username(data)
    if not caller.is_admin and username != caller.username:
        raise _denied("only admins may read other users.")
    return {"user": _user_json(service.store.get_user(username), service)}


def list_users(service: AuthService, caller: Caller, data: Data) -> Data:
    _admin_only(caller, "list users")
    return {
        "users": [
            {"id": u.id, "username": u.username, "is_admin": u.is_admin} for u in service.store.list_users()
        ]
    }


def current_user(service: AuthService, caller: Caller, data: Data) -> Data:
    return {
        "user": {"id": caller.id, "username": caller.username, "is_admin": caller.is_admin},
        "is_basic_auth": True,
    }


def update_password(service: AuthService, caller: Caller, data: Data) -> Data:
    username = _username(data)
    own = username == caller.username
    if not own and not caller.is_admin:
        raise _denied("only admins may change other users' passwords.")
    password = check_password(_required(data, "password"))
    current = data.get("current_password")
    if current is not None and (not isinstance(current, str) or len(current) > 4096):
        raise _bad(
            "Invalid value for parameter 'current_password': expected a string of at most 4096 characters."
        )
    if own:
        # As MLflow 3: changing one's own password re-asserts the current one, so a
        # hijacked session cannot silently take the account over.
        if not current:
            raise _bad("Current password is required when changing your own password ('current_password').")
        if not service.password_matches(username, current):
            raise _bad("Current password does not match.")
        if password == current:
            raise _bad("New password must differ from the current password.")
    service.store.update_password(username, service.hash_password(password))
    service.forget_user(username)
    return {}


def update_admin(service: AuthService, caller: Caller, data: Data) -> Data:
    _admin_only(caller, "change who is an admin")
    username = _username(data)
    is_admin = _bool(data, "is_admin")
    if not is_admin and username == caller.username and service.store.count_admins() <= 1:
        raise TrackletException(
            f"User '{username}' is the only admin: make another user an admin first.", BAD_REQUEST
        )
    service.store.update_admin(username, is_admin)
    service.forget_user(username)
    return {}


def delete_user(service: AuthService, caller: Caller, data: Data) -> Data:
    _admin_only(caller, "delete users")
    username = _username(data)
    if username == caller.username:
        raise TrackletException(
            "Users cannot delete their own account. Ask another admin to delete this user instead.",
            BAD_REQUEST,
        )
    service.store.delete_user(username)
    service.forget_user(username)
    return {}


# -- experiment permissions ---------------------------------------------------------------------


def create_experiment_permission(service: AuthService, caller: Caller, data: Data) -> Data:
    experiment_id = _experiment_id(data)
    _require_manage(service, caller, experiment_id)
    username = _username(data)
    permission = grantable(_required(data, "permission"))
    grant = service.store.create_grant(experiment_id, username, permission)
    service.grants_changed(grant.user_id)
    return {"experiment_permission": grant.to_json()}


def get_experiment_permission(service: AuthService, caller: Caller, data: Data) -> Data:
    experiment_id = _experiment_id(data)
    _require_manage(service, caller, experiment_id)
    username = _username(data)
    try:
        grant = service.store.get_grant(experiment_id, username)
    except TrackletException as exc:
        if caller.is_admin or exc.error_code != RESOURCE_DOES_NOT_EXIST:
            raise
        # one answer whether the user or only the grant is missing: a MANAGE holder (anyone
        # who created an experiment) must not learn which user names exist
        raise TrackletException(
            f"No permission of user '{username}' on experiment {experiment_id}.", RESOURCE_DOES_NOT_EXIST
        ) from None
    return {"experiment_permission": grant.to_json()}


def update_experiment_permission(service: AuthService, caller: Caller, data: Data) -> Data:
    experiment_id = _experiment_id(data)
    _require_manage(service, caller, experiment_id)
    username = _username(data)
    permission = grantable(_required(data, "permission"))
    service.store.update_grant(experiment_id, username, permission)
    service.grants_changed()
    return {}


def delete_experiment_permission(service: AuthService, caller: Caller, data: Data) -> Data:
    experiment_id = _experiment_id(data)
    _require_manage(service, caller, experiment_id)
    service.store.delete_grant(experiment_id, _username(data))
    service.grants_changed()
    return {}


# -- registered model permissions ---------------------------------------------------------------


def _model_name(data: Data, name: str = "name") -> str:
    value = _required(data, name)
    if not isinstance(value, str):
        raise _bad(f"Invalid value for parameter '{name}': expected a string.")
    if len(value) > MAX_MODEL_NAME:
        raise _bad(f"Invalid value for parameter '{name}': at most {MAX_MODEL_NAME} characters.")
    if "\x00" in value:
        raise _bad(f"Invalid value for parameter '{name}': it cannot contain NUL characters.")
    return value


def _require_model_manage(service: AuthService, caller: Caller, name: str) -> None:
    if not service.model_permission(caller, name).can_manage:
        raise _denied(f"managing permissions needs MANAGE permission on registered model '{name}'.")


def create_registered_model_permission(service: AuthService, caller: Caller, data: Data) -> Data:
    name = _model_name(data)
    _require_model_manage(service, caller, name)
    username = _username(data)
    permission = grantable(_required(data, "permission"))
    grant = service.store.create_model_grant(name, username, permission)
    service.model_grants_changed(grant.user_id)
    return {"registered_model_permission": grant.to_json()}


def get_registered_model_permission(service: AuthService, caller: Caller, data: Data) -> Data:
    name = _model_name(data)
    _require_model_manage(service, caller, name)
    username = _username(data)
    try:
        grant = service.store.get_model_grant(name, username)
    except TrackletException as exc:
        if caller.is_admin or exc.error_code != RESOURCE_DOES_NOT_EXIST:
            raise
        # one answer whether the user or only the grant is missing (see get_experiment_permission)
        raise TrackletException(
            f"Registered model permission with name={name} and username={username} not found",
            RESOURCE_DOES_NOT_EXIST,
        ) from None
    return {"registered_model_permission": grant.to_json()}


def update_registered_model_permission(service: AuthService, caller: Caller, data: Data) -> Data:
    name = _model_name(data)
    _require_model_manage(service, caller, name)
    username = _username(data)
    permission = grantable(_required(data, "permission"))
    service.store.update_model_grant(name, username, permission)
    service.model_grants_changed()
    return {}


def delete_registered_model_permission(service: AuthService, caller: Caller, data: Data) -> Data:
    name = _model_name(data)
    _require_model_manage(service, caller, name)
    service.store.delete_model_grant(name, _username(data))
    service.model_grants_changed()
    return {}


# -- MLflow 3's per-user grants -----------------------------------------------------------------


#: The resource types of MLflow 3's grant API that tracklet keeps permissions on.
RESOURCE_TYPES = ("experiment", "registered_model")


def _resource(data: Data) -> tuple[str, str]:
    """(resource type, resource id) of a v3 grant call."""
    resource_type = _required(data, "resource_type")
    if resource_type not in RESOURCE_TYPES:
        raise _bad(
            f"Invalid value for parameter 'resource_type': tracklet keeps permissions on experiments "
            f"('experiment') and registered models ('registered_model'), not {str(resource_type)[:60]!r}."
        )
    if resource_type == "registered_model":
        resource_id = _model_name(data, "resource_id")
    else:
        resource_id = _experiment_id(data, "resource_id")
    if resource_id == "*":
        raise _bad(
            f"Invalid value for parameter 'resource_id': wildcard grants are not supported; name one "
            f"{resource_type.replace('_', ' ')}."
        )
    return resource_type, resource_id


def grant_user_permission(service: AuthService, caller: Caller, data: Data) -> Data:
    resource_type, resource_id = _resource(data)
    if resource_type == "registered_model":
        _require_model_manage(service, caller, resource_id)
        model_grant = service.store.create_model_grant(
            resource_id, _username(data), grantable(_required(data, "permission"))
        )
        service.model_grants_changed(model_grant.user_id)
        return {}
    _require_manage(service, caller, resource_id)
    grant = service.store.create_grant(resource_id, _username(data), grantable(_required(data, "permission")))
    service.grants_changed(grant.user_id)
    return {}


def revoke_user_permission(service: AuthService, caller: Caller, data: Data) -> Data:
    resource_type, resource_id = _resource(data)
    if resource_type == "registered_model":
        _require_model_manage(service, caller, resource_id)
        service.store.delete_model_grant(resource_id, _username(data))
        service.model_grants_changed()
        return {}
    _require_manage(service, caller, resource_id)
    service.store.delete_grant(resource_id, _username(data))
    service.grants_changed()
    return {}


def get_user_permission(service: AuthService, caller: Caller, data: Data) -> Data:
    resource_type, resource_id = _resource(data)
    username = _username(data)
    # Admins, and a user about themselves (MLflow adds workspace admins, which tracklet has
    # not): answering MANAGE holders too let anyone who created an experiment learn which
    # user names exist and which are admins (their permission is MANAGE everywhere).
    if not caller.is_admin and username != caller.username:
        raise _denied("only admins may read other users' permissions; ask about yourself ('username').")
    user = service.store.get_user(username)
    subject = Caller(user.id, user.username, user.is_admin)
    if resource_type == "registered_model":
        permission = service.model_permission(subject, resource_id)
    else:
        permission = service.permission(subject, resource_id)
    return {"allowed": permission.can_use, "permission": permission.name}
