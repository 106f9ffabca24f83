"""``predarb check-config``'s Polygon line: the endpoint answers for the right chain, and
the wallet can pay for its redemptions (or the relayer is configured to pay)."""

from __future__ import annotations

from decimal import Decimal

from predarb.capital.chain import GWEI, ChainError
from predarb.capital.jobs import chain_of
from predarb.config import Settings

REDEEM_GAS = 200_000  # a redemption through the adapter, with headroom (README: gas)
WEI = Decimal(10) ** 18


async def check_polygon(settings: Settings) -> tuple[str, str]:
    if settings.poly_private_key is None or not settings.poly_redeem_enabled:
        return "OK", "polygon: no Polymarket wallet to redeem for"
    chain = chain_of(settings)
    if chain is None:
        return "WARN", (
            "POLY_RPC_URL: not set: resolved Polymarket positions are not redeemed and their"
            " money stays locked until redeemed by hand"
        )
    try:
        chain_id = await chain.chain_id()
        block = await chain.block_number()
        pol = await chain.native_balance()
        fee = await chain.w3.eth.gas_price
    except ChainError as exc:
        name = "POLY_CHAIN_ID" if "POLY_CHAIN_ID" in str(exc) else "POLY_RPC_URL"
        return "FAIL", f"{name}: {exc}"
    except Exception as exc:
        return "FAIL", f"POLY_RPC_URL: {type(exc).__name__}: {exc}"
    finally:
        await chain.close()
    where = f"polygon: chain {chain_id} at block {block}"
    if settings.poly_signature_type != 0:
        if settings.poly_relayer_api_key is None or not settings.poly_relayer_api_key_address:
            return "WARN", (
                f"{where}; POLY_RELAYER_API_KEY and POLY_RELAYER_API_KEY_ADDRESS are needed to"
                " redeem from a proxy or Safe wallet"
            )
        return "OK", f"{where}; redemptions go gasless through the relayer"
    per = REDEEM_GAS * int(fee)
    covers = pol // per if per else 0
    text = (
        f"{where}; wallet {chain.address} has {Decimal(pol) / WEI:.4f} POL, about {covers}"
        f" redemptions at {Decimal(int(fee)) / GWEI:.0f} gwei"
    )
    return ("OK" if covers >= 10 else "WARN"), text + ("" if covers >= 10 else ": top it up")
