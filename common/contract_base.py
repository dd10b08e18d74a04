"""Base for RPC and event models: strict, closed, and with Chinese field errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError

from common.errors import DomainError

_MESSAGES = {
    "missing": "此项为必填项。",
    "extra_forbidden": "不支持该字段。",
    "string_too_short": "此项为必填项。",
    "string_too_long": "内容过长。",
    "string_pattern_mismatch": "格式不正确。",
    "literal_error": "请从给定选项中选择。",
    "bool_type": "应为 true 或 false。",
    "string_type": "应为文本。",
    "model_type": "应为 JSON 对象。",
}


class ContractModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True,
                              str_strip_whitespace=True)

    @classmethod
    def parse(cls, data):
        """Validates untrusted input; raises VALIDATION_ERROR naming each offending field."""
        try:
            if isinstance(data, cls):
                return data
            return cls.model_validate(data)
        except ValidationError as exc:
            raise DomainError("VALIDATION_ERROR", fields=field_errors(exc)) from None


def field_errors(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "body"
        fields.setdefault(name, _MESSAGES.get(error["type"], "格式不正确。"))
    return fields
