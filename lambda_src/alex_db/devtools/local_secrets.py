"""LocalSecretsManager: the part of Secrets Manager the Data API and a rotation use, for local runs and tests.

Versions with staging labels (AWSCURRENT, AWSPENDING, AWSPREVIOUS), in memory or in a JSON file
(`make local` keeps its secrets in `.local/secrets.json`). Same method names, arguments, response
keys and error codes as boto3's secretsmanager client for these five calls. Written here because
moto keeps no state between processes and `make local`'s CLI runs are separate processes.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

ACCOUNT_PREFIX = "arn:aws:secretsmanager:local:000000000000:secret:"


class LocalSecretsError(Exception):
    """The local secrets file is unreadable or does not hold what `alex-db local up` wrote."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def _error(operation: str, code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class LocalSecretsManager:
    """Secret versions and their stages; `path` persists them (shared by every process using it)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._secrets: dict[str, dict[str, Any]] = {}
        if self.path and self.path.exists():
            self._secrets = self._read()

    def _read(self) -> dict[str, dict[str, Any]]:
        assert self.path is not None
        hint = (f"delete {self.path} and run `alex-db local up` again: a new app password is generated and set "
                "(the data stays)")  # fmt: skip
        try:
            data = json.loads(self.path.read_text())
        except json.JSONDecodeError as exc:
            raise LocalSecretsError(f"{self.path} is not valid JSON ({exc.msg} at line {exc.lineno})", hint) from None
        if not isinstance(data, dict) or not all(
            isinstance(s, dict) and {"name", "arn", "versions"} <= set(s) for s in data.values()
        ):
            raise LocalSecretsError(f"{self.path} does not hold secrets as alex-db writes them", hint)
        return data

    def _save(self) -> None:
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(self._secrets, indent=2))
            temporary.chmod(0o600)
            temporary.replace(self.path)

    def _secret(self, operation: str, secret_id: str) -> dict[str, Any]:
        if self.path and self.path.exists():
            self._secrets = self._read()  # another process may have rotated it
        secret = self._secrets.get(secret_id) or next(
            (s for arn, s in self._secrets.items() if s["name"] == secret_id), None
        )
        if secret is None:
            raise _error(operation, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
        return secret

    # -- the boto3 calls (their parameter names)

    def create_secret(self, *, Name: str, SecretString: str) -> dict[str, Any]:
        with self._lock:
            arn = f"{ACCOUNT_PREFIX}{Name}-{uuid.uuid4().hex[:6]}"
            version = str(uuid.uuid4())
            current = {"SecretString": SecretString, "stages": ["AWSCURRENT"]}
            self._secrets[arn] = {"name": Name, "arn": arn, "versions": {version: current}}
            self._save()
            return {"ARN": arn, "Name": Name, "VersionId": version}

    def describe_secret(self, *, SecretId: str) -> dict[str, Any]:
        with self._lock:
            secret = self._secret("DescribeSecret", SecretId)
            stages = {v: list(d["stages"]) for v, d in secret["versions"].items() if d["stages"]}
            return {"ARN": secret["arn"], "Name": secret["name"], "RotationEnabled": True, "VersionIdsToStages": stages}

    def get_secret_value(
        self,
        *,
        SecretId: str,
        VersionId: str | None = None,
        VersionStage: str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            secret = self._secret("GetSecretValue", SecretId)
            stage = VersionStage or (None if VersionId else "AWSCURRENT")
            for version, data in secret["versions"].items():
                if data.get("SecretString") is None:
                    continue  # a rotation's version before createSecret has put its value
                if (VersionId is None or version == VersionId) and (stage is None or stage in data["stages"]):
                    return {"ARN": secret["arn"], "VersionId": version, "SecretString": data["SecretString"],
                            "VersionStages": list(data["stages"])}  # fmt: skip
            raise _error(
                "GetSecretValue",
                "ResourceNotFoundException",
                f"Secrets Manager can't find the specified secret value for VersionId: {VersionId}, "
                f"staging label: {stage}",
            )

    def begin_rotation(self, secret_id: str, token: str) -> None:
        """What RotateSecret does before it calls the function: version `token`, labelled AWSPENDING, no value."""
        with self._lock:
            secret = self._secret("RotateSecret", secret_id)
            for data in secret["versions"].values():
                data["stages"] = [s for s in data["stages"] if s != "AWSPENDING"]
            secret["versions"].setdefault(token, {"SecretString": None, "stages": []})["stages"].append("AWSPENDING")
            self._save()

    def put_secret_value(
        self,
        *,
        SecretId: str,
        ClientRequestToken: str,
        SecretString: str,
        VersionStages: list[str],
    ) -> dict[str, Any]:
        with self._lock:
            secret = self._secret("PutSecretValue", SecretId)
            existing = secret["versions"].get(ClientRequestToken)
            # AWS PutSecretValue: a version id that exists with the same data "does nothing"; with
            # other data it fails - what makes two racing invocations of one rotation step safe.
            if existing is not None and existing.get("SecretString") is not None:
                if existing["SecretString"] != SecretString:
                    raise _error(
                        "PutSecretValue",
                        "ResourceExistsException",
                        f"A resource with the ID you requested already exists: version {ClientRequestToken} "
                        "holds different data",
                    )
                return {"ARN": secret["arn"], "VersionId": ClientRequestToken, "VersionStages": existing["stages"]}
            for data in secret["versions"].values():
                data["stages"] = [s for s in data["stages"] if s not in VersionStages]
            stages = sorted(set(VersionStages) | set((existing or {}).get("stages", [])))
            secret["versions"][ClientRequestToken] = {"SecretString": SecretString, "stages": stages}
            self._save()
            return {"ARN": secret["arn"], "VersionId": ClientRequestToken, "VersionStages": stages}

    def update_secret_version_stage(
        self,
        *,
        SecretId: str,
        VersionStage: str,
        MoveToVersionId: str,
        RemoveFromVersionId: str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            secret = self._secret("UpdateSecretVersionStage", SecretId)
            versions = secret["versions"]
            if MoveToVersionId not in versions:
                raise _error("UpdateSecretVersionStage", "ResourceNotFoundException", "no such version")
            if RemoveFromVersionId and VersionStage not in versions[RemoveFromVersionId]["stages"]:
                raise _error(
                    "UpdateSecretVersionStage", "InvalidParameterException", "the label is not on that version"
                )
            for data in versions.values():
                if VersionStage in data["stages"]:
                    data["stages"].remove(VersionStage)
                    if VersionStage == "AWSCURRENT":  # Secrets Manager keeps the one before as AWSPREVIOUS
                        for other in versions.values():
                            if "AWSPREVIOUS" in other["stages"]:
                                other["stages"].remove("AWSPREVIOUS")
                        data["stages"].append("AWSPREVIOUS")
            versions[MoveToVersionId]["stages"].append(VersionStage)
            self._save()
            return {"ARN": secret["arn"], "Name": secret["name"]}
