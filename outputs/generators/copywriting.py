"""The words of an output: written by a model provider when one is connected, else by the
built-in templates below. Either way generators read one ``Copy`` and never invent copy elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from outputs.generators.base import GenerationRequest
from outputs.generators.brand import PLACEHOLDER_NAME, Brand


@dataclass
class Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)


@dataclass
class Tier:
    name: str
    seats: int
    price: float
    summary: str


@dataclass
class Copy:
    headline: str
    tagline: str
    subheadline: str
    features: list[tuple[str, str]]
    steps: list[tuple[str, str]]
    metrics: list[tuple[str, str]]
    quote: str
    quote_by: str
    cta: str
    sections: list[Section]
    tiers: list[Tier]
    closing: str
    notes: list[str] = field(default_factory=list)
    # Site wording that depends on the kind of business; empty means the SaaS defaults.
    features_heading: str = ""
    features_lede: str = ""
    steps_heading: str = ""
    steps_lede: str = ""
    hero_alt: str = ""
    contact_lede: str = ""
    booking: bool = False
    # Parts the request named that the template has no block for: (heading, placeholder text).
    extra_sections: list[tuple[str, str]] = field(default_factory=list)


ILLUSTRATIVE = (
    "The figures in this copy (metrics, customer quote, prices) come from Command's built-in templates: "
    "they are illustrative placeholders, not facts about the company. Replace them before publishing."
)


def _tone_cta(tone: str) -> str:
    return {"friendly": "Let's talk", "professional": "Book a briefing"}.get(tone, "Book a demo")


def built_in_copy(request: GenerationRequest, brand: Brand) -> Copy:
    name, audience = brand.name, brand.audience
    if audience.upper() in ("B2B", "B2C", "SAAS", "SMB", "ENTERPRISE"):
        audience = f"{audience} teams"  # a market, not people: "gives B2B one trusted view" read wrong
    industry = f" for {brand.industry}" if brand.industry else ""
    friendly = request.tone == "friendly"
    headline = f"{name} turns scattered data into decisions{industry}"
    tagline = "Clarity for every decision"
    sub = (
        f"{name} gives {audience} one trusted view of the numbers that matter — "
        "connected in days, governed from day one, and ready for the board."
    )
    if friendly:
        sub = f"{name} helps {audience} see what's really going on — set up in days, trusted from day one."
    features = [
        ("One source of truth", "Connect finance, CRM and product data into a single governed model."),
        ("Answers in minutes", "Self-serve dashboards and alerts replace week-long report requests."),
        ("Enterprise-grade security", "SSO, role-based access and audit trails come standard."),
        ("Forecasts you can defend", "Driver-based planning with every assumption visible and versioned."),
        ("Works with your stack", "Native connectors for the warehouses and tools you already run."),
        ("A team behind you", "A named success lead and a 30-day onboarding plan for every account."),
    ]
    steps = [
        ("Connect", "Link your sources with guided connectors; nothing to install."),
        ("Model", "Agree definitions once — revenue, churn, margin — and reuse them everywhere."),
        ("Decide", "Share live views with leadership and act on alerts, not anecdotes."),
    ]
    metrics = [
        ("14 days", "median time to first dashboard"),
        ("38%", "less time spent on reporting"),
        ("99.9%", "uptime over the last 12 months"),
    ]
    sections = [
        Section(
            "Executive summary",
            [
                f"{name} proposes a focused engagement to give {audience} a single, trusted view of "
                "performance. The outcome is fewer manual reports, faster decisions and numbers that "
                "hold up in front of the board.",
            ],
        ),
        Section(
            "The challenge",
            [
                "Data lives in too many places. Teams reconcile spreadsheets by hand, definitions drift "
                "between departments, and leadership waits days for answers that should take minutes.",
            ],
            ["Manual month-end reporting", "Conflicting metric definitions", "Slow answers to ad-hoc questions"],
        ),
        Section(
            "Our approach",
            [
                "We start with the decisions you need to make, then connect only the data that informs "
                "them. Each phase ends with something your team uses the same week.",
            ],
            [f"{a}: {b}" for a, b in steps],
        ),
        Section(
            "Scope and deliverables",
            [],
            [
                "Connected data model for finance and revenue",
                "Executive dashboard with weekly alerts",
                "Definitions catalogue agreed with each department",
                "Training for up to 25 users",
            ],
        ),
        Section(
            "Timeline",
            [],
            [
                "Weeks 1–2: discovery and connections",
                "Weeks 3–4: model and dashboards",
                "Weeks 5–6: rollout, training and handover",
            ],
        ),
        Section(
            "Investment",
            [
                "Pricing is per seat with volume discounts; the detailed model accompanies this proposal.",
            ],
        ),
        Section(
            "Next steps",
            [
                f"Agree scope on a 30-minute call, confirm the start date, and {name} begins discovery within a week.",
            ],
        ),
    ]
    tiers = [
        Tier("Starter", 10, 49.0, "For a first team getting to one source of truth"),
        Tier("Growth", 40, 39.0, "For departments sharing governed metrics"),
        Tier("Enterprise", 150, 29.0, "For company-wide rollouts with SSO and audit"),
    ]
    return Copy(
        headline=headline,
        tagline=tagline,
        subheadline=sub,
        features=features,
        steps=steps,
        metrics=metrics,
        quote=f"“With {name} our leadership meeting starts with decisions, not with arguing about numbers.”",
        quote_by="VP Finance, a mid-market customer (illustrative)",
        cta=_tone_cta(request.tone),
        sections=sections,
        tiers=tiers,
        closing=f"Thank you. {name} is ready to start when you are.",
        notes=[ILLUSTRATIVE],
    )


REPORT_WORDS = ("report", "analysis", "review", "findings", "summary of", "update")


def document_kind(request: GenerationRequest) -> str:
    """“report” when the deliverable reads like one, else “proposal” (the templates' default)."""
    d = request.deliverable
    text = " ".join([d.title, d.description]).lower()
    return "report" if any(w in text for w in REPORT_WORDS) else "proposal"


def report_sections(brand: Brand) -> list[Section]:
    name, audience = brand.name, brand.audience
    return [
        Section(
            "Executive summary",
            [
                f"This report summarises where {name} stands for {audience}: what is working, what is not, "
                "and the decisions that would make the biggest difference next quarter.",
            ],
        ),
        Section(
            "Key findings",
            [],
            [
                "Reporting effort is concentrated at month-end and delays decisions",
                "Teams use different definitions for the same metrics",
                "Leadership questions are answered from spreadsheets, not from a shared source",
            ],
        ),
        Section(
            "Analysis",
            [
                "The findings share one cause: data is collected for reporting rather than for decisions. "
                "Each team optimises its own view, so the company has many numbers and little agreement.",
            ],
        ),
        Section(
            "Recommendations",
            [],
            [
                "Agree five company-level metrics and their definitions",
                "Automate the monthly pack from one governed source",
                "Review decisions, not dashboards, in the leadership meeting",
            ],
        ),
        Section(
            "Next steps",
            [
                f"Confirm owners for each recommendation; {name} will report progress in four weeks.",
            ],
        ),
    ]


def by_genre(request: GenerationRequest, brand: Brand, copy: Copy) -> Copy:
    """The built-in author's writing for the brief's genre and subject, over the SaaS defaults."""
    from outputs.generators import genre_copy

    brief = request.brief
    category = str(request.deliverable.category)
    named = brand.name if brand.name != PLACEHOLDER_NAME else None
    local = brief.business and brief.business != "SaaS"
    if category == "website":
        copy.extra_sections = genre_copy.requested_sections(request)
    if local and category in ("website", "image", "video"):
        for key, value in genre_copy.local_business_site(request, brand).items():
            setattr(copy, key, value)
        copy.tiers = []
        return copy
    saas = brief.business == "SaaS" or bool(request.entities.industry)
    if category == "website" and (brief.subject or "portfolio" in brief.genre) and not saas:
        for key, value in genre_copy.subject_site(request, brand, named).items():
            setattr(copy, key, value)
        copy.tiers = []
        return copy
    if category == "website" and brief.subject:  # a product site about something: say it up front
        copy.headline = f"{brand.name}: {brief.subject}"
        copy.tagline = brief.subject[:1].upper() + brief.subject[1:]
    if category in ("image", "video") and brief.subject:
        copy.headline = f"{brand.name}: {brief.subject}" if named else brief.subject[:1].upper() + brief.subject[1:]
        copy.tagline, copy.cta = brief.subject, "Find out more"
        copy.notes = []
        return copy
    if category not in ("pdf", "document", "presentation"):
        return copy
    if brief.genre == "pitch deck" and not (brief.business == "SaaS" or request.entities.industry):
        copy.sections = genre_copy.pitch_sections(request, named)
        copy.subheadline = f"{brand.name if named else 'Our'} pitch" + (f": {brief.subject}" if brief.subject else "")
        copy.tagline = brief.subject or "Investor pitch"
        copy.closing = "Thank you. [Contact details]"
    elif brief.genre == "onboarding guide":
        copy.sections = genre_copy.onboarding_sections(request, named)
        who = brief.subject or "new starters"
        copy.subheadline = f"Everything {who} need for their first day, first week and first month."
        copy.closing = "Welcome aboard. Questions about this guide go to [your onboarding contact]."
    elif brief.genre in genre_copy.FIXED_FORMS:
        copy.sections = genre_copy.FIXED_FORMS[brief.genre](request, named)
        copy.subheadline = f"{brief.genre[:1].upper() + brief.genre[1:]}" + (f" · {named}" if named else "")
        copy.closing = "Every bracketed part is a placeholder: fill it in before sending."
    elif brief.subject or brief.genre not in ("", "proposal", "report", "presentation", "document"):
        copy.sections = genre_copy.subject_sections(request, named)
        copy.subheadline = f"About {brief.subject}." if brief.subject else f"A {brief.genre} by {brand.name}."
        copy.closing = "Written from Command's built-in templates; the bracketed parts are yours to fill in."
    elif brief.genre == "report" or document_kind(request) == "report":
        copy.sections = report_sections(brand)
    else:
        return copy
    # The analytics template's features, metrics and tiers belong to none of these.
    copy.tiers, copy.features, copy.metrics = [], [], []
    copy.quote = copy.quote_by = ""
    copy.notes = [genre_copy.PLACEHOLDER_NOTE]
    return copy


def copy_for(request: GenerationRequest, brand: Brand) -> Copy:
    """Built-in copy, with every field a provider wrote taking precedence."""
    copy = by_genre(request, brand, built_in_copy(request, brand))
    given = request.copy or {}
    if not given:
        return copy
    for key in ("headline", "tagline", "subheadline", "cta", "quote", "closing"):
        if isinstance(given.get(key), str) and given[key].strip():
            setattr(copy, key, given[key].strip())
    paragraphs = [p for p in given.get("paragraphs") or [] if isinstance(p, str) and p.strip()]
    if paragraphs:
        copy.subheadline = paragraphs[0]
    bullets = [b for b in given.get("bullets") or [] if isinstance(b, str) and b.strip()]
    if bullets:
        copy.features = [(b, "") for b in bullets[:6]]
    for key in ("features", "steps"):  # pairs of [title, text]; an empty list clears the template's
        if isinstance(given.get(key), list):
            setattr(copy, key, [(str(t), str(b)) for t, b, *_ in (list(x) + [""] for x in given[key])])
    for key in ("metrics", "tiers"):
        if given.get(key) == []:
            setattr(copy, key, [])
    if given.get("quote") == "":
        copy.quote = copy.quote_by = ""
    for key in ("features_heading", "steps_heading", "contact_lede"):
        if isinstance(given.get(key), str) and given[key].strip():
            setattr(copy, key, given[key].strip())
    if "steps" in given:
        copy.steps_lede = copy.features_lede = ""
    copy.booking = bool(given.get("booking", copy.booking))
    sections = []
    for s in given.get("sections") or []:
        if isinstance(s, dict) and str(s.get("heading", "")).strip():
            sections.append(
                Section(
                    str(s["heading"]).strip(),
                    [str(p) for p in s.get("paragraphs") or []],
                    [str(b) for b in s.get("bullets") or []],
                )
            )
    if sections:
        copy.sections = sections
    return copy
