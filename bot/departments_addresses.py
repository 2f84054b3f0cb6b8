"""The departments file's tables with each registered platform's address fields.

A platform registers the fields that address a department (and leadership) on it
(bot/core/shared/platforms.py: `AddressField`); here they become fields of `[[department]]`
and `[company]`, refused with the platform's own sentences, in the place of the table where
they have always been listed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, ValidationInfo, create_model
from pydantic_core import ErrorDetails

from bot.core.shared.platforms import PLATFORMS, AddressField, Platform, addresses_from
from bot.departments_schema import CompanyTable, DepartmentTable, Shape, Table, refusal

TableT = TypeVar("TableT", bound=Table)


def department_table() -> type[DepartmentTable]:
    """`[[department]]` with every registered platform's address fields."""
    return _with_addresses(DepartmentTable, tuple(PLATFORMS.values()))


def company_table() -> type[CompanyTable]:
    """`[company]` with every registered platform's leadership address fields."""
    return _with_addresses(CompanyTable, tuple(PLATFORMS.values()))


@cache  # one model per registry: a platform registered later gets a model of its own
def _with_addresses(table: type[TableT], platforms: tuple[Platform, ...]) -> type[TableT]:
    leadership = table is CompanyTable
    fields: dict[str, Any] = {}
    for platform in platforms:
        for field in platform.address:
            written = field.leadership if leadership else field.key
            if written is not None:
                fields[written] = (Annotated[field.kind | None, Shape(field.wrong_type),
                                             AfterValidator(_address_check(platform, field,
                                                                           leadership))], None)
    model = create_model(table.__name__, __base__=table, __module__=__name__, **fields)
    fixed = list(table.model_fields)
    at = fixed.index(table.addresses_before) if table.addresses_before else len(fixed)
    model.field_order = (*fixed[:at], *fields, *fixed[at:])
    return model


def in_field_order(model: type[Table], errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """The errors of a table in its fields' order, as the admin reads the table."""
    def position(error: ErrorDetails) -> int:
        if not error["loc"]:
            return -1  # the table itself
        name = error["loc"][0]
        return model.field_order.index(name) if name in model.field_order else len(
            model.field_order)  # an unknown field: after the others, as pydantic lists them
    return sorted(errors, key=position)


def _address_check(platform: Platform, field: AddressField, leadership: bool
                   ) -> Callable[[Any, ValidationInfo], Any]:
    """The field's own check, given the platform's fields validated before it."""
    def check(value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return value
        earlier = addresses_from(info.data, leadership=leadership).get(platform.name, {})
        message = field.check(value, earlier)
        if message is not None:
            raise refusal(field.key, message)
        return value
    return check
