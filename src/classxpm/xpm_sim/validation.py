"""What XPM refuses on client add and update: no name, a malformed or reused TFN, a malformed ABN.

The ErrorDescription texts are the simulator's own (reference §11.1: the real strings are unknown) and
never contain the number itself.
"""

from __future__ import annotations

from classxpm.identifiers import is_valid_abn, is_valid_tfn
from classxpm.xpm_sim import records
from classxpm.xpm_sim.api import ApiError
from classxpm.xpm_sim.config import SimConfig
from classxpm.xpm_sim.store import Store

NAME_REQUIRED = "Client Name is required"
TFN_INVALID = "The tax number is not valid"
TFN_DUPLICATE = "The tax number is already in use by another client"
ABN_INVALID = "The business number is not valid"
STRUCTURE_UNKNOWN = "The business structure is not one configured for this practice"


def check_client_fields(
    store: Store, config: SimConfig, tenant: str, fields: dict[str, str], client_uuid: str | None
) -> None:
    """Refuse fields XPM would refuse for this tenant's client (``client_uuid`` None on add).

    Raises:
        ApiError: With the reason, for a missing name, a bad or duplicate TFN, or a bad ABN.
    """
    if ("Name" in fields or client_uuid is None) and not fields.get("Name"):
        raise ApiError(NAME_REQUIRED)
    tax_number = fields.get("TaxNumber", "")
    if tax_number:
        _check_tax_number(store, config, tenant, tax_number, client_uuid)
    structure = fields.get("BusinessStructure", "")
    if structure and config.business_structures and structure not in config.business_structures:
        raise ApiError(STRUCTURE_UNKNOWN)
    business_number = fields.get("BusinessNumber", "")
    if business_number and not _abn_ok(config, business_number):
        raise ApiError(ABN_INVALID)


def _check_tax_number(
    store: Store, config: SimConfig, tenant: str, tax_number: str, client_uuid: str | None
) -> None:
    well_formed = tax_number.isdigit() and len(tax_number) in (8, 9)
    if not well_formed or (config.tfn_check_digit and not is_valid_tfn(tax_number)):
        raise ApiError(TFN_INVALID)
    if records.clients_with_tax_number(store, tenant, tax_number, other_than=client_uuid):
        raise ApiError(TFN_DUPLICATE)


def _abn_ok(config: SimConfig, business_number: str) -> bool:
    if config.abn_check:
        return is_valid_abn(business_number)
    return business_number.isdigit() and len(business_number) == 11
