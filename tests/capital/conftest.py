"""Fixtures of the capital tests: an EVM node served as JSON-RPC, its world, a store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from predarb.store import Store
from tests.capital.evm import Node, World, serve
from tests.capital.helpers import open_store


@pytest.fixture
def node() -> Node:
    return Node()


@pytest.fixture
def world(node: Node) -> World:
    return World(node)


@pytest.fixture
def url(node: Node) -> Iterator[str]:
    with serve(node) as u:
        yield u


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path)
    yield s
    await s.close()
