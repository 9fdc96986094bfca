"""
The peer: FastAPI Users with SQLite and JWT, run inside its own virtualenv.

Started by ``bench.peer`` as ``uvicorn bench.peer_app:app`` (one worker). It
hashes with argon2id at the service's owasp parameters through its
``PasswordHelper``; ``PEER_USERS`` users are inserted at start with one
precomputed hash, since the login only verifies it.
"""

# It runs in the peer's own virtualenv, whose packages mypy cannot see here.
# mypy: ignore-errors

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin
from fastapi_users.authentication import (
    AuthenticationBackend,
    BearerTransport,
    JWTStrategy,
)
from fastapi_users.password import PasswordHelper
from fastapi_users_db_sqlalchemy import (
    SQLAlchemyBaseUserTableUUID,
    SQLAlchemyUserDatabase,
)
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

SECRET = "peer-bench-only-secret-0123456789abcdef"
DATABASE = os.environ.get("PEER_DATABASE", "sqlite+aiosqlite:///peer.db")
PASSWORD = "bench-password-0123"

helper = PasswordHelper(
    PasswordHash((Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1),))
)


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


engine = create_async_engine(DATABASE)
sessions = async_sessionmaker(engine, expire_on_commit=False)


async def get_session() -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        yield session


async def get_user_db(session: AsyncSession = Depends(get_session)):  # noqa: B008
    yield SQLAlchemyUserDatabase(session, User)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_manager(user_db=Depends(get_user_db)):  # noqa: B008
    yield UserManager(user_db, helper)


def get_jwt_strategy() -> JWTStrategy:
    return JWTStrategy(secret=SECRET, lifetime_seconds=3600)


backend = AuthenticationBackend(
    name="jwt",
    transport=BearerTransport(tokenUrl="auth/jwt/login"),
    get_strategy=get_jwt_strategy,
)
users = FastAPIUsers[User, uuid.UUID](get_user_manager, [backend])


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    hashed = helper.hash(PASSWORD)
    rows = [
        {
            "id": uuid.uuid4(),
            "email": f"user{i}@bench.example",
            "hashed_password": hashed,
            "is_active": True,
            "is_superuser": False,
            "is_verified": True,
        }
        for i in range(int(os.environ.get("PEER_USERS", "1000")))
    ]
    async with sessions() as session:
        await session.execute(insert(User), rows)
        await session.commit()
    yield


app = FastAPI(lifespan=lifespan)
app.include_router(users.get_auth_router(backend), prefix="/auth/jwt")
