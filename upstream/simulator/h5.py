"""The H5 liveness page the H5Link opens, built for a phone (390x844 and up).

The real page logs the person in and films a liveness check; here a tester types who is being
verified and presses Complete or Fail, each a plain form POST (no JavaScript). Complete
redirects through ``/h5/<opaque>/return`` (where the group is created, see ``verification``) to
the CallbackURL with ``resultCode=10000``; Fail redirects straight to it with ``10001``.

``lng`` (``zh`` default, ``en``, ``zh-Hant``) picks the page language, as upstream's does.
"""

import html
import re

from upstream.simulator import verification
from upstream.simulator.core import Context
from upstream.simulator.web import Reply, Request, html_reply, redirect

PATH_RE = re.compile(r"^/h5/(?P<opaque>[A-Za-z0-9_-]+)(?P<tail>/return)?$")

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "真人认证（模拟）",
        "intro": "这是活体检测页面的模拟器。填写正在认证的人，然后点击“完成”或“失败”。",
        "person": "被认证人",
        "complete": "完成",
        "fail": "失败",
        "person_required": "请填写被认证人。",
        "expired": "链接已过期，请重新发起认证。",
        "finished": "该认证已结束。",
        "continue": "返回应用",
        "not_found": "找不到该认证。",
    },
    "en": {
        "title": "Identity verification (simulated)",
        "intro": "This simulates the liveness page. Enter who is being verified, then press "
        "Complete or Fail.",
        "person": "Person being verified",
        "complete": "Complete",
        "fail": "Fail",
        "person_required": "Enter the person being verified.",
        "expired": "This link has expired. Please start the verification again.",
        "finished": "This verification is already finished.",
        "continue": "Return to the app",
        "not_found": "This verification does not exist.",
    },
    "zh-Hant": {
        "title": "真人認證（模擬）",
        "intro": "這是活體檢測頁面的模擬器。填寫正在認證的人，然後點擊「完成」或「失敗」。",
        "person": "被認證人",
        "complete": "完成",
        "fail": "失敗",
        "person_required": "請填寫被認證人。",
        "expired": "連結已過期，請重新發起認證。",
        "finished": "此認證已結束。",
        "continue": "返回應用程式",
        "not_found": "找不到此認證。",
    },
}

STYLE = """
*{box-sizing:border-box}
body{margin:0;font:17px/1.45 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;
background:#f4f5f7;color:#1d2129}
main{max-width:480px;margin:0 auto;padding:32px 20px;min-height:100vh;display:flex;
flex-direction:column;gap:20px}
h1{font-size:22px;margin:8px 0 0}
p{margin:0;color:#4e5969}
label{display:block;font-weight:600;margin-bottom:8px}
input{width:100%;font-size:17px;padding:14px;border:1px solid #c9cdd4;border-radius:10px}
.actions{display:flex;flex-direction:column;gap:12px;margin-top:auto;padding-top:24px}
button,a.button{display:block;width:100%;padding:16px;border:0;border-radius:12px;font-size:18px;
font-weight:600;text-align:center;text-decoration:none}
.complete{background:#1664ff;color:#fff}
.fail{background:#fff;color:#cb2634;border:1px solid #cb2634}
.error{color:#cb2634}
"""


def language(value: str) -> str:
    return value if value in TEXT else "zh"


def _page(lng: str, body: str) -> str:
    text = TEXT[lng]
    return f"""<!doctype html>
<html lang="{lng}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>{html.escape(text["title"])}</title>
<style>{STYLE}</style>
</head>
<body><main>
<h1>{html.escape(text["title"])}</h1>
{body}
</main></body>
</html>
"""


def _message(status: int, lng: str, key: str, link: str = "") -> Reply:
    text = TEXT[lng]
    body = f'<p id="message">{html.escape(text[key])}</p>'
    if link:
        body += (
            f'<div class="actions"><a class="button complete" href="{html.escape(link)}">'
            f"{html.escape(text['continue'])}</a></div>"
        )
    return html_reply(status, _page(lng, body))


def _form(lng: str, person: str = "", error: str = "") -> str:
    text = TEXT[lng]
    problem = f'<p class="error" role="alert">{html.escape(text[error])}</p>' if error else ""
    return f"""<p>{html.escape(text["intro"])}</p>
<form method="post">
<input type="hidden" name="lng" value="{lng}">
<label for="person">{html.escape(text["person"])}</label>
<input id="person" name="person" value="{html.escape(person)}" autocomplete="off" required>
{problem}
<div class="actions">
<button class="complete" name="outcome" value="complete">{html.escape(text["complete"])}</button>
<button class="fail" name="outcome" value="fail" formnovalidate>{html.escape(text["fail"])}</button>
</div>
</form>"""


def handle(ctx: Context, request: Request) -> Reply:
    match = PATH_RE.match(request.path)
    form = request.form() if request.method == "POST" else {}
    lng = language(form.get("lng") or request.query.get("lng", ""))
    if match is None:
        return _message(404, lng, "not_found")
    opaque = match["opaque"]
    store = ctx.store
    row = verification.by_opaque(store, opaque)
    if row is None:
        return _message(404, lng, "not_found")
    if match["tail"]:
        reached = verification.reach_callback(store, opaque)
        if reached is None:
            return _message(409, lng, "finished")
        return redirect(verification.callback_url(reached), 302)
    state = verification.page_state(store, row)
    if state == "expired":
        return _message(410, lng, "expired")
    if state == "finished":
        link = f"/h5/{opaque}/return" if row["status"] in ("passed", "completed") else ""
        return _message(200, lng, "finished", link)
    if request.method != "POST":
        verification.mark_opened(store, opaque)
        return html_reply(200, _page(lng, _form(lng)))
    person = form.get("person", "").strip()[:100]
    outcome = form.get("outcome")
    if outcome == "complete" and not person:
        return html_reply(400, _page(lng, _form(lng, person, "person_required")))
    if outcome not in ("complete", "fail"):
        return html_reply(400, _page(lng, _form(lng, person)))
    code = verification.SUCCESS if outcome == "complete" else verification.DEFAULT_FAILURE
    finished = verification.finish(store, opaque, result_code=code, person=person)
    if finished is None:
        return _message(409, lng, "finished")
    if outcome == "complete":
        return redirect(f"/h5/{opaque}/return")
    return redirect(verification.callback_url(finished))
