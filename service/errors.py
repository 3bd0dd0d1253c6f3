"""The refusals of the service, each one line fit to show the user and to log."""

from __future__ import annotations

from pprl.errors import PprlError


class ServiceError(PprlError):
    """A refusal by the service or its clients; the message names the file, never its content."""

    status = 400  # the HTTP status the service answers it with


class Unauthorised(ServiceError):
    """No token, or one the service does not know, or one for another project or party."""

    status = 401


class Forbidden(ServiceError):
    """A known token asking for what its party may not do."""

    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    """Refused because of the project's state: a package after its run was queued."""

    status = 409


class TooLarge(ServiceError):
    status = 413
