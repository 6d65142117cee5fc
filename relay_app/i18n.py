"""Every UI string in English and Simplified Chinese, and how a RelayError is shown in each."""

# ruff: noqa: RUF001  (full-width punctuation is correct in the Chinese strings)

from __future__ import annotations

from relay_core.errors import (
    EmailTaken,
    InvalidInviteCode,
    RelayError,
    UserBanned,
    UsernameTaken,
    ValidationFailed,
    WrongPassword,
)

LANGUAGES = ("en", "zh")

_STRINGS: dict[str, tuple[str, str]] = {
    # navigation
    "app_name": ("WebSocket Relay", "WebSocket 中继"),
    "nav_dashboard": ("Dashboard", "控制台"),
    "nav_guide": ("Quick start", "快速上手"),
    "nav_invites": ("Invites", "邀请码"),
    "nav_users": ("Users", "用户"),
    "nav_endpoints": ("All endpoints", "全部端点"),
    "nav_audit": ("Audit log", "审计日志"),
    "nav_profile": ("Profile", "个人资料"),
    "nav_logout": ("Sign out", "退出登录"),
    "nav_login": ("Sign in", "登录"),
    "nav_register": ("Register", "注册"),
    # common
    "required": ("Required", "必填"),
    "save": ("Save", "保存"),
    "saved": ("Saved.", "已保存。"),
    "cancel": ("Cancel", "取消"),
    "create": ("Create", "创建"),
    "delete": ("Delete", "删除"),
    "confirm_delete": ("Delete for good", "确认删除"),
    "copy": ("Copy", "复制"),
    "copied": ("Copied to the clipboard", "已复制到剪贴板"),
    "copy_url": ("Copy URL", "复制地址"),
    "copy_link": ("Copy link", "复制链接"),
    "revoke": ("Revoke", "撤销"),
    "revoked": ("Revoked", "已撤销"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "all": ("All", "全部"),
    "status": ("Status", "状态"),
    "created": ("Created", "创建时间"),
    "reason": ("Reason", "原因"),
    "owner": ("Owner", "所有者"),
    "disabled": ("Disabled", "已停用"),
    "connections": ("Connections", "连接数"),
    "messages": ("Messages", "消息数"),
    "previous": ("Previous", "上一页"),
    "next": ("Next", "下一页"),
    "must_be_number": ("Enter a number", "请输入数字"),
    "fix_fields": ("Please correct the marked fields.", "请修正标出的字段。"),
    # login and register
    "login_title": ("Sign in", "登录"),
    "username_or_email": ("Username or email", "用户名或邮箱"),
    "username": ("Username", "用户名"),
    "email": ("Email", "邮箱"),
    "password": ("Password", "密码"),
    "sign_in": ("Sign in", "登录"),
    "no_account": ("Have an invite code?", "有邀请码？"),
    "register_title": ("Create your account", "创建账号"),
    "invite_code": ("Invite code", "邀请码"),
    "create_account": ("Create account", "创建账号"),
    "have_account": ("Already registered?", "已经注册？"),
    "password_rule": ("At least 8 characters, with a letter and a digit.", "至少 8 个字符，包含字母和数字。"),
    # dashboard
    "dashboard_title": ("Your endpoints", "我的端点"),
    "summary_endpoints": ("Endpoints", "端点"),
    "summary_connections": ("Live connections", "当前连接"),
    "summary_messages": ("Messages relayed", "已中继消息"),
    "new_endpoint": ("New endpoint", "新建端点"),
    "endpoint_name_placeholder": ("Name (optional)", "名称（可选）"),
    "create_endpoint": ("Create endpoint", "创建端点"),
    "endpoint_created": ("Endpoint created", "端点已创建"),
    "endpoint_deleted": ("Endpoint deleted", "端点已删除"),
    "no_endpoints": ("No endpoints yet: create one above, then connect to its URL.",
                     "还没有端点：在上方创建一个，然后连接它的地址。"),
    "no_endpoints_short": ("No endpoints.", "没有端点。"),
    "access_public": ("public", "公开"),
    "access_token": ("token", "令牌"),
    # endpoint detail
    "endpoint_not_found": ("No such endpoint.", "没有这个端点。"),
    "stat_current": ("Current connections", "当前连接"),
    "stat_total_connections": ("Total connections", "累计连接"),
    "stat_total_messages": ("Total messages", "累计消息"),
    "stat_dropped": ("Dropped messages", "丢弃的消息"),
    "chart_title": ("Messages per minute", "每分钟消息数"),
    "console_title": ("Live console", "实时控制台"),
    "console_connect": ("Connect", "连接"),
    "console_disconnect": ("Disconnect", "断开"),
    "console_clear": ("Clear", "清空"),
    "console_send": ("Send", "发送"),
    "console_input_placeholder": ("Message to send", "要发送的消息"),
    "console_token_placeholder": ("Access token (token endpoints)", "访问令牌（令牌模式端点）"),
    "console_in": ("←", "←"),
    "console_out": ("→", "→"),
    "console_info": ("•", "•"),
    "console_open": ("connected", "已连接"),
    "console_closed": ("not connected", "未连接"),
    "console_connecting": ("connecting…", "连接中…"),
    "console_opened": ("connection open", "连接已建立"),
    "console_notconnected": ("connect first", "请先连接"),
    "messages_title": ("Recent messages", "最近消息"),
    "no_messages": ("No messages yet.", "还没有消息。"),
    "devices_title": ("Devices", "设备"),
    "no_devices": ("No devices yet: clients appear here after an identify frame.",
                   "还没有设备：客户端发送 identify 帧后会出现在这里。"),
    "device_name": ("Device name", "设备名称"),
    "rename": ("Rename", "重命名"),
    "online": ("online", "在线"),
    "offline": ("offline", "离线"),
    "last_seen": ("last seen", "最后在线"),
    "connect_title": ("Connect", "连接方式"),
    "snippet_js": ("JavaScript (browser or Node)", "JavaScript（浏览器或 Node）"),
    "snippet_python": ("Python", "Python"),
    "snippet_cli": ("Command line (websocat)", "命令行（websocat）"),
    "tokens_title": ("Access tokens", "访问令牌"),
    "tokens_public_hint": ("This endpoint is public: tokens are only checked in token access mode.",
                           "此端点为公开模式：只有令牌模式才会校验令牌。"),
    "token_name": ("Token name", "令牌名称"),
    "role_both": ("publish and subscribe", "发布和订阅"),
    "role_publish": ("publish only", "仅发布"),
    "role_subscribe": ("subscribe only", "仅订阅"),
    "create_token": ("Create token", "创建令牌"),
    "token_once": ("Copy this token now: it is not shown again.", "请立即复制此令牌：它不会再次显示。"),
    "settings_title": ("Settings", "设置"),
    "endpoint_name": ("Name", "名称"),
    "forwarding_mode": ("Forwarding mode", "转发模式"),
    "mode_json": ("json (wrapped messages)", "json（封装消息）"),
    "mode_direct": ("direct (frames verbatim)", "direct（原样转发）"),
    "mode_custom_header": ("custom header (prefix text frames)", "自定义头（文本帧加前缀）"),
    "custom_header": ("Custom header", "自定义头"),
    "access_mode": ("Access mode", "访问模式"),
    # profile
    "profile_title": ("Profile", "个人资料"),
    "account_title": ("Account", "账号"),
    "role": ("Role", "角色"),
    "role_admin": ("admin", "管理员"),
    "role_user": ("user", "普通用户"),
    "member_since": ("Member since", "注册时间"),
    "change_email": ("Change email", "修改邮箱"),
    "new_email": ("New email", "新邮箱"),
    "email_changed": ("Email changed.", "邮箱已修改。"),
    "change_password": ("Change password", "修改密码"),
    "current_password": ("Current password", "当前密码"),
    "new_password": ("New password", "新密码"),
    "confirm_password": ("Repeat the new password", "再次输入新密码"),
    "passwords_differ": ("The two passwords differ", "两次输入的密码不一致"),
    "password_changed": ("Password changed; other sessions are signed out.", "密码已修改；其他会话已退出登录。"),
    # admin: invites
    "invites_title": ("Invite codes", "邀请码"),
    "create_invites": ("Create invite codes", "创建邀请码"),
    "count": ("How many", "数量"),
    "expires_in_hours": ("Expires in (hours)", "有效期（小时）"),
    "never": ("never", "永不过期"),
    "grants_admin": ("Grants admin", "授予管理员"),
    "new_codes": ("New codes:", "新邀请码："),
    "invites_created": ("Invite codes created", "邀请码已创建"),
    "invite_revoked": ("Invite code revoked", "邀请码已撤销"),
    "status_unused": ("unused", "未使用"),
    "status_used": ("used", "已使用"),
    "status_expired": ("expired", "已过期"),
    "status_revoked": ("revoked", "已撤销"),
    "export_csv": ("Export CSV", "导出 CSV"),
    "export_json": ("Export JSON", "导出 JSON"),
    "code": ("Code", "邀请码"),
    "admin": ("Admin", "管理员"),
    "expires": ("Expires", "过期时间"),
    "used_by": ("Used by", "使用者"),
    # admin: users and endpoints
    "users_title": ("Users", "用户"),
    "banned": ("banned", "已封禁"),
    "ban": ("Ban", "封禁"),
    "unban": ("Unban", "解封"),
    "ban_reason": ("Ban reason", "封禁原因"),
    "confirm_ban": ("Ban user", "确认封禁"),
    "user_banned": ("User banned; their connections are being closed.", "用户已封禁，其连接正在关闭。"),
    "user_unbanned": ("User unbanned", "用户已解封"),
    "show_endpoints": ("Endpoints", "查看端点"),
    "user_endpoints": ("Endpoints of the user", "该用户的端点"),
    "admin_endpoints_title": ("All endpoints", "全部端点"),
    "disable": ("Disable", "停用"),
    "enable": ("Enable", "启用"),
    "confirm_disable": ("Disable endpoint", "确认停用"),
    "endpoint_disabled": ("Endpoint disabled; its connections are being closed.", "端点已停用，其连接正在关闭。"),
    "endpoint_enabled": ("Endpoint enabled", "端点已启用"),
    # admin: audit
    "audit_title": ("Audit log", "审计日志"),
    "action": ("Action", "操作"),
    "target_type": ("Target type", "对象类型"),
    "time": ("Time", "时间"),
    "target": ("Target", "对象"),
    "actor": ("Actor", "操作者"),
    # guide
    "guide_title": ("Quick start", "快速上手"),
    "guide_intro": ("From an invite code to your first relayed message in under five minutes.",
                    "五分钟内从邀请码到第一条中继消息。"),
    "guide_1_title": ("Register with your invite code", "使用邀请码注册"),
    "guide_1_body": ("Open the register page (an invite link fills in the code), choose a username, an email "
                     "and a password with at least 8 characters, a letter and a digit.",
                     "打开注册页（邀请链接会自动填入邀请码），填写用户名、邮箱和至少 8 位且包含字母和数字的密码。"),
    "guide_2_title": ("Create an endpoint", "创建端点"),
    "guide_2_body": ("On the dashboard, give the endpoint a name and press Create endpoint. Its WebSocket URL "
                     "appears in the list; Copy URL puts it on the clipboard.",
                     "在控制台中为端点命名并点击“创建端点”。列表中会显示它的 WebSocket 地址，点击“复制地址”即可复制。"),
    "guide_3_title": ("Connect two clients", "连接两个客户端"),
    "guide_3_body": ("Every client on the same URL receives what the others send (not its own messages). Open the "
                     "endpoint page and press Connect in the live console: that is your first client.",
                     "同一地址上的每个客户端都会收到其他客户端发送的消息（不会收到自己的）。打开端点页面，在实时控制台中点击"
                     "“连接”，这就是第一个客户端。"),
    "guide_4_title": ("Send a message", "发送消息"),
    "guide_4_body": ("Connect a second client, for example this Python script (or websocat on the command line), "
                     "and send {\"type\":\"chat\",\"data\":\"hello\"}. The console shows it as it arrives.",
                     "再连接第二个客户端，例如下面的 Python 脚本（或命令行的 websocat），发送 "
                     "{\"type\":\"chat\",\"data\":\"hello\"}，控制台会立即显示收到的消息。"),
    "guide_5_title": ("Watch it live", "实时查看"),
    "guide_5_body": ("The endpoint page counts connections and messages as they happen, lists recent messages and "
                     "devices, and lets you switch to token access, direct forwarding or a custom header.",
                     "端点页面实时统计连接和消息，列出最近消息和设备，还可以切换到令牌访问、直接转发或自定义头模式。"),
}

TRANSLATIONS: dict[str, dict[str, str]] = {
    lang: {key: pair[index] for key, pair in _STRINGS.items()} for index, lang in enumerate(LANGUAGES)
}

# Chinese for the server's messages, by error code (English comes from relay_core as-is).
_ZH_ERRORS: dict[str, str] = {
    "VALIDATION_ERROR": "请修正标出的字段。",
    "INVALID_INVITE_CODE": "邀请码无效。",
    "USERNAME_TAKEN": "该用户名已被占用。",
    "EMAIL_TAKEN": "该邮箱已注册。",
    "INVALID_CREDENTIALS": "用户名或密码错误。",
    "UNAUTHORIZED": "请重新登录：登录状态缺失、无效或已过期。",
    "FORBIDDEN": "只有管理员可以执行此操作。",
    "NOT_FOUND": "未找到。",
    "ENDPOINT_LIMIT_REACHED": "端点数量已达上限。",
    "INVITE_NOT_REVOCABLE": "只能撤销未使用的邀请码。",
    "WRONG_PASSWORD": "当前密码错误。",
    "RATE_LIMITED": "请求过于频繁，请稍后再试。",
    "INTERNAL_ERROR": "服务器出错了。",
    "SERVICE_UNAVAILABLE": "依赖的服务暂不可用。",
}
_ZH_INVITE_REASONS = {"unknown": "不存在", "used": "已被使用", "expired": "已过期", "revoked": "已被撤销"}
_EN_INVITE_REASONS = {"unknown": "unknown code", "used": "already used", "expired": "expired",
                      "revoked": "revoked"}
# Field problems from relay_core.rules, in Chinese (anything else is shown as the server wrote it).
_ZH_PROBLEMS = {
    "3 to 30 characters: letters, digits and underscores": "3 到 30 个字符：字母、数字和下划线",
    "needs at least one letter and one digit": "至少包含一个字母和一个数字",
    "8 to 128 characters": "8 到 128 个字符",
    "1 to 100 characters": "1 到 100 个字符",
    "1 to 50": "1 到 50",
    "must be greater than 0": "必须大于 0",
    "required when forwarding_mode is custom_header": "自定义头模式下必填",
    "you cannot ban yourself": "不能封禁自己",
}


def describe_error(exc: RelayError, lang: str) -> tuple[dict[str, str], str]:
    """(field → message shown next to that field, message for the whole form) in the language `lang`."""
    zh = lang == "zh"
    if isinstance(exc, UserBanned):
        reason = exc.details.get("reason") or ("未说明原因" if zh else "no reason given")
        return {}, (f"此账号已被封禁：{reason}。" if zh else exc.message)
    message = _ZH_ERRORS.get(exc.code, exc.message) if zh else exc.message
    fields: dict[str, str] = {}
    if isinstance(exc, ValidationFailed):
        fields = {str(k): (_ZH_PROBLEMS.get(str(v), str(v)) if zh else str(v)) for k, v in exc.details.items()}
        message = TRANSLATIONS[lang if lang in LANGUAGES else "en"]["fix_fields"]
    elif isinstance(exc, InvalidInviteCode):
        reason = str(exc.details.get("reason", "unknown"))
        fields = {"invite_code": (_ZH_INVITE_REASONS if zh else _EN_INVITE_REASONS).get(reason, reason)}
    elif isinstance(exc, UsernameTaken):
        fields = {"username": message}
    elif isinstance(exc, EmailTaken):
        fields = {"email": message}
    elif isinstance(exc, WrongPassword):
        fields = {"current_password": message}
    return fields, message
