"""Pages of the healthcode capability, installed ahead of the disclosure catch-alls.

* ``/public/healthcode/rules`` (+ ``.json``): the published rule set, each rule in words and in CertLogic.
* ``/public/healthcode/verify``: the verifier. Verification runs in the page (``static/verifier.js``: Base45,
  zlib via the Compression Streams API, CBOR, WebCrypto ECDSA P-256 over the COSE Sig_structure) against the
  signed trust list, which the page checks against the root it pins and caches in localStorage; a service
  worker keeps the page itself, so it works offline once opened. Camera scanning where the browser has the
  BarcodeDetector API, paste otherwise.
* ``/public/healthcode/me/{person}/{token}`` (+ ``.json``): the holder's page (code, reasons, when it changes),
  reachable only through the private link the issuer hands out.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from sqlalchemy import select

from accord.disclosure import pages as disclosure_pages
from accord.disclosure.pages import Ctx
from accord.errors import AccordError, NotFound
from accord.healthcode import api, codec, entrance, service, trustlist, workplace
from accord.healthcode.api import router as api_router
from accord.healthcode.model import Declaration as DeclarationRow
from accord.healthcode.model import Employee, Employer, PersonStatus
from accord.web.deps import SessionDep, SettingsDep
from accord.web.mount import install_ahead

HERE = Path(__file__).parent
router = APIRouter(prefix="/public/healthcode", include_in_schema=False)
env = Environment(
    loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(disclosure_pages.HERE / "templates")]),
    autoescape=True,
)

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "verify": "Verify a health code",
        "verify_lead": "Scan or paste a code. Checking happens on this device, "
        "against the signed list of issuer keys; after the first visit it works without a network.",
        "valid": "Valid",
        "invalid": "Not valid",
        "until": "valid until",
        "trust_list": "trust list version",
        "loading": "Loading the trust list...",
        "paste": "code",
        "check": "Check",
        "scan": "Scan with camera",
        "rules": "Health-code rules",
        "rules_lead": "How a code's colour is decided. The rules are published, "
        "versioned, and written in CertLogic (the rule language of the EU Digital COVID Certificate).",
        "rules_how": "The colour is the most severe among the rules that apply (none apply: green). A code is "
        "valid for the hours above or until a rule's date passes, whichever is first.",
        "version": "Version",
        "validity": "Code validity",
        "rule": "Rule",
        "colour": "Colour",
        "meaning": "Meaning",
        "versions": "All versions",
        "green": "Green",
        "yellow": "Yellow",
        "red": "Red",
        "my_code": "My health code",
        "why": "Why",
        "no_reasons": "No rule applies to you.",
        "changes": "Your status is next re-evaluated by",
        "code_until": "This code is valid until",
        "override": "Set by hand, with the reason",
        "declare": "Daily health declaration",
        "filed": "Today's declaration is filed. Thank you.",
        "temperature": "Temperature",
        "symptoms": "Symptoms today",
        "travel": "I was in a risk area in the last 14 days",
        "send_declaration": "File today's declaration",
        "s_cough": "Cough",
        "s_sore_throat": "Sore throat",
        "s_shortness_of_breath": "Shortness of breath",
        "s_loss_of_taste_or_smell": "Loss of taste or smell",
        "s_fatigue": "Fatigue",
        "s_diarrhoea": "Diarrhoea",
    },
    "zh": {
        "verify": "核验健康码",
        "verify_lead": "扫描或粘贴健康码。核验在本设备上完成，依据签名的签发密钥清单；首次打开后可离线使用。",
        "valid": "有效",
        "invalid": "无效",
        "until": "有效期至",
        "trust_list": "信任清单版本",
        "loading": "正在加载信任清单……",
        "paste": "健康码",
        "check": "核验",
        "scan": "摄像头扫码",
        "rules": "健康码规则",
        "rules_lead": "健康码颜色的判定规则：公开、有版本号，以 CertLogic（欧盟数字新冠证书的规则语言）书写。",
        "rules_how": "颜色取所有适用规则中最严重的一项（无规则适用则为绿码）。"
        "健康码在上述小时数内或在规则日期到达前有效，以先到者为准。",
        "version": "版本",
        "validity": "健康码有效期",
        "rule": "规则",
        "colour": "颜色",
        "meaning": "含义",
        "versions": "所有版本",
        "green": "绿码",
        "yellow": "黄码",
        "red": "红码",
        "my_code": "我的健康码",
        "why": "原因",
        "no_reasons": "没有适用于您的规则。",
        "changes": "您的状态最迟将于此时重新评估：",
        "code_until": "本码有效期至",
        "override": "人工设定，理由",
        "declare": "每日健康申报",
        "filed": "今日申报已提交，谢谢。",
        "temperature": "体温",
        "symptoms": "今日症状",
        "travel": "近14天内到过风险地区",
        "send_declaration": "提交今日申报",
        "s_cough": "咳嗽",
        "s_sore_throat": "咽痛",
        "s_shortness_of_breath": "呼吸困难",
        "s_loss_of_taste_or_smell": "嗅觉或味觉丧失",
        "s_fatigue": "乏力",
        "s_diarrhoea": "腹泻",
    },
}


def _render(template: str, ctx: Ctx, status: int = 200, **values: Any) -> HTMLResponse:
    labels = {**ctx.t, **LABELS.get(ctx.lang, LABELS["en"])}
    html = env.get_template(template).render(ctx=ctx, t=labels, static=disclosure_pages.STATIC, **values)
    return HTMLResponse(html, status_code=status)


@router.get("/verify")
def verify_page(request: Request, session: SessionDep) -> Response:
    try:
        root = trustlist.fingerprint(service._cert(service.root_key(session)))
    except NotFound:
        root = None
    return _render("healthcode_verify.html", Ctx(request), root_fingerprint=root)


@router.get("/verifier.js")
def verifier_js() -> Response:
    return FileResponse(HERE / "static" / "verifier.js", media_type="text/javascript")


@router.get("/sw.js")
def service_worker() -> Response:
    return FileResponse(
        HERE / "static" / "sw.js",
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": "/public/healthcode/"},
    )


def _ruleset(request: Request, session: SessionDep) -> dict[str, Any]:
    version = request.query_params.get("version")
    rs = service.ruleset_version(session, version) if version else service.current_rules(session)
    return rs.as_dict()


@router.get("/rules")
def rules_page(request: Request, session: SessionDep) -> Response:
    ruleset = _ruleset(request, session)
    return _render(
        "healthcode_rules.html",
        Ctx(request, version=request.query_params.get("version")),
        ruleset=ruleset,
        versions=api.rule_versions(session),
    )


@router.get("/rules.json")
def rules_json(request: Request, session: SessionDep) -> Response:
    return JSONResponse(_ruleset(request, session))


def _holder(session: SessionDep, settings: SettingsDep, person_id: str, token: str) -> dict[str, Any]:
    if not hmac.compare_digest(token, api.holder_token(settings.secret_key, person_id)):
        raise NotFound("no such health-code page")  # the same answer for a wrong token and a missing person
    row = session.get(PersonStatus, person_id)
    if row is None:
        raise NotFound("no such health-code page")
    now = datetime.now(UTC)
    view = api.status_view(session, row, now)
    try:
        code, _ = service.issue_code(session, person_id, now=now)
        view["code"] = code
        view["code_until"] = datetime.fromtimestamp(codec.decode(code).claims[codec.CLAIM_EXP], UTC)
    except AccordError as exc:
        view["code"], view["code_until"], view["no_code"] = None, None, str(exc)
    return view


@router.get("/me/{person_id}/{token}.json")
def holder_json(person_id: str, token: str, session: SessionDep, settings: SettingsDep) -> Response:
    view = _holder(session, settings, person_id, token)
    return JSONResponse(api.jsonable(view))


@router.get("/me/{person_id}/{token}")
def holder_page(request: Request, person_id: str, token: str, session: SessionDep, settings: SettingsDep) -> Response:
    view = _holder(session, settings, person_id, token)
    return _render(
        "healthcode_holder.html",
        Ctx(request),
        view=view,
        qr=codec.qr_svg(view["code"]) if view["code"] else None,
        code_until=view["code_until"],
        no_code=view.get("no_code"),
        json_url=f"/public/healthcode/me/{person_id}/{token}.json",
    )


def _employee(session: SessionDep, settings: SettingsDep, employee_id: int, token: str) -> tuple[Any, str]:
    if not hmac.compare_digest(token, workplace.declaration_token(settings.secret_key, employee_id)):
        raise NotFound("no such declaration page")
    emp = session.get(Employee, employee_id)
    if emp is None:
        raise NotFound("no such declaration page")
    employer = session.get(Employer, emp.employer_id)
    return emp, employer.name if employer else ""


def _filed_today(session: SessionDep, employee_id: int) -> bool:
    today = datetime.now(UTC).date()
    return (
        session.scalars(
            select(DeclarationRow).where(DeclarationRow.employee_id == employee_id, DeclarationRow.day == today)
        ).first()
        is not None
    )


@router.get("/declare/{employee_id}/{token}.json")
def declare_json(employee_id: int, token: str, session: SessionDep, settings: SettingsDep) -> Response:
    _employee(session, settings, employee_id, token)
    return JSONResponse(
        {
            "day": datetime.now(UTC).date().isoformat(),
            "filed": _filed_today(session, employee_id),
            "symptoms": list(entrance.SYMPTOMS),
        }
    )


@router.get("/declare/{employee_id}/{token}")
def declare_page(
    request: Request, employee_id: int, token: str, session: SessionDep, settings: SettingsDep
) -> Response:
    _, employer = _employee(session, settings, employee_id, token)
    return _render(
        "healthcode_declare.html",
        Ctx(request),
        employer=employer,
        today=datetime.now(UTC).date(),
        filed=_filed_today(session, employee_id),
        symptoms=entrance.SYMPTOMS,
        error=None,
        json_url=f"/public/healthcode/declare/{employee_id}/{token}.json",
    )


@router.post("/declare/{employee_id}/{token}")
async def declare_post(
    request: Request, employee_id: int, token: str, session: SessionDep, settings: SettingsDep
) -> Response:
    _, employer = _employee(session, settings, employee_id, token)
    form = await request.form()
    error = None
    try:
        temperature = float(str(form.get("temperature_c", "")))
        symptoms = [str(v) for v in form.getlist("symptoms")]
        workplace.declare(
            session, employee_id, temperature, symptoms, form.get("travel") == "1", datetime.now(UTC).date()
        )
        session.flush()
    except ValueError:
        error = "the temperature must be a number, e.g. 36.6"
    except AccordError as exc:
        error = str(exc)
    return _render(
        "healthcode_declare.html",
        Ctx(request),
        status=422 if error else 200,
        employer=employer,
        today=datetime.now(UTC).date(),
        filed=error is None,
        symptoms=entrance.SYMPTOMS,
        error=error,
        json_url=f"/public/healthcode/declare/{employee_id}/{token}.json",
    )


def install(app: FastAPI) -> None:
    install_ahead(app, api_router, router)
