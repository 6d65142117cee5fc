"""/api/auth: register, login, the signed-in user, password change."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from relay_app.api.deps import Context, CurrentUser, Db, limit_login, limit_register
from relay_app.api.envelope import Envelope
from relay_app.api.schemas import ChangePasswordBody, LoginBody, MePatch, RegisterBody
from relay_core.security import create_jwt
from relay_core.services import users
from relay_core.views import LoginView, UserView

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", status_code=status.HTTP_201_CREATED, dependencies=[Depends(limit_register)])
def register(body: RegisterBody, db: Db) -> Envelope[UserView]:
    user = users.register_user(session=db, invite_code=body.invite_code, username=body.username,
                               email=body.email, password=body.password)
    return Envelope(data=users.user_view(session=db, user=user))


@router.post("/login", dependencies=[Depends(limit_login)])
def login(body: LoginBody, db: Db, context: Context) -> Envelope[LoginView]:
    user = users.authenticate(session=db, login=body.username, password=body.password)
    token, expires_at = create_jwt(user_id=user.id, token_version=user.token_version,
                                   secret=context.jwt_secret, ttl_hours=context.settings.jwt_ttl_hours)
    return Envelope(data=LoginView(token=token, expires_at=expires_at, user=users.user_view(session=db, user=user)))


@router.get("/me")
def read_me(user: CurrentUser, db: Db) -> Envelope[UserView]:
    return Envelope(data=users.user_view(session=db, user=user))


@router.patch("/me")
def update_me(body: MePatch, user: CurrentUser, db: Db) -> Envelope[UserView]:
    users.update_email(session=db, user=user, email=body.email)
    return Envelope(data=users.user_view(session=db, user=user))


@router.post("/change-password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: ChangePasswordBody, user: CurrentUser, db: Db) -> Response:
    users.change_password(session=db, user=user, current_password=body.current_password,
                          new_password=body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
