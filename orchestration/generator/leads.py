"""Lead profile rows: the creation row and (for ~15% of leads) one later update row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .formatting import format_timestamps, take
from .world import World

LEAD_COLUMNS = (
    "lead_id",
    "email",
    "birth_date",
    "age",
    "gender",
    "country_code",
    "postal_code",
    "city",
    "latitude",
    "longitude",
    "created_at",
    "updated_at",
    "marketing_consent",
    "consent_updated_at",
    "acquisition_channel",
)


def lead_rows(world: World, idx: np.ndarray, updated: np.ndarray | bool = False) -> pa.Table:
    """Rows for leads ``idx``; ``updated`` selects the post-update version per row."""
    idx = np.asarray(idx, dtype=np.int64)
    upd = np.broadcast_to(np.asarray(updated, dtype=bool), idx.shape)
    pidx = pa.array(idx)
    upd_pa = pa.array(upd)
    created_t = (world.start_day + world.created_day[idx]) * 86_400 + world.created_sec[idx]
    updated_t = np.where(upd, (world.start_day + world.update_day[idx]) * 86_400 + world.update_sec[idx], created_t)
    use_age = world.use_age[idx]
    country = np.where(upd, world.new_country[idx], world.country[idx])
    consent = np.where(upd, world.consent1[idx], world.consent0[idx])
    # the CRM stamps the consent when it is given or withdrawn: at sign-up, or at the
    # update that changed it (an address change keeps the sign-up stamp)
    consent_changed = upd & (world.consent1[idx] != world.consent0[idx])
    consent_t = np.where(consent_changed, updated_t, created_t)
    created_s = format_timestamps(created_t)
    return pa.table(
        {
            "lead_id": world.lead_ids.take(pidx),
            "email": world.email.take(pidx),
            "birth_date": pc.if_else(pa.array(use_age), pa.scalar(None, pa.string()), world.birth_date.take(pidx)),
            "age": pa.array(world.age[idx], mask=~use_age),
            "gender": world.gender.take(pidx),
            "country_code": take(world.vocab.countries, country),
            "postal_code": pc.if_else(upd_pa, world.new_postal.take(pidx), world.postal.take(pidx)),
            "city": pc.if_else(upd_pa, world.new_city.take(pidx), world.city.take(pidx)),
            "latitude": pa.array(np.where(upd, world.new_lat[idx], world.lat[idx])),
            "longitude": pa.array(np.where(upd, world.new_lon[idx], world.lon[idx])),
            "created_at": created_s,
            "updated_at": format_timestamps(updated_t),
            "marketing_consent": pa.array(consent),
            "consent_updated_at": format_timestamps(consent_t),
            "acquisition_channel": take(world.vocab.channels, world.channel[idx]),
            "_t": pa.array(updated_t),
        }
    )


def leads_for_day(world: World, day: int) -> pa.Table:
    """All valid lead rows of the file of ``day`` (sorted by updated_at)."""
    created = np.flatnonzero(world.file_day == day)
    updates = np.flatnonzero(world.update_day == day)
    idx = np.concatenate([created, updates])
    flag = np.concatenate([np.zeros(len(created), bool), np.ones(len(updates), bool)])
    table = lead_rows(world, idx, flag)
    return table.take(pa.array(np.argsort(table.column("_t").to_numpy(), kind="stable")))


def lead_row_pool(world: World, day: int) -> tuple[np.ndarray, np.ndarray]:
    """(lead index, is_update) of every valid lead row delivered before ``day``."""
    created = np.flatnonzero(world.file_day < day)
    updates = np.flatnonzero((world.update_day >= 0) & (world.update_day < day))
    idx = np.concatenate([created, updates])
    flag = np.concatenate([np.zeros(len(created), bool), np.ones(len(updates), bool)])
    return idx, flag
