"""The built-in author by genre: a local business's site, an onboarding guide, a piece about a
named subject. Writes only what the brief says; anything it would have to invent (an address,
opening hours, a review, a price) is written as a marked placeholder in square brackets.
"""

from __future__ import annotations

from outputs.generators.base import GenerationRequest
from outputs.generators.brand import Brand

PLACEHOLDER_NOTE = (
    "Text in [square brackets] is a placeholder written by Command's built-in templates: replace it with "
    "real facts before publishing."
)

# What a kind of local business offers, in its customers' words. Unknown kinds get neutral copy.
OFFERS: dict[str, list[tuple[str, str]]] = {
    "bakery": [
        ("Bread baked every morning", "Sourdough, rye and white loaves, shaped by hand and out of the oven early."),
        ("Cakes to order", "Birthday, wedding and celebration cakes — tell us the occasion and we'll bake for it."),
        ("Pastries and buns", "Croissants, cinnamon buns and seasonal bakes, best before noon."),
    ],
    "coffee shop": [
        ("Coffee made properly", "Espresso, filter and seasonal specials from beans roasted nearby."),
        ("Something to eat", "Breakfast, lunch and cakes to go with your cup."),
        ("Stay a while", "Tables, plugs and Wi-Fi for a slow morning or a quick meeting."),
    ],
    "restaurant": [
        ("Our menu", "Seasonal dishes cooked from scratch, with something for every table."),
        ("Book a table", "Lunch, dinner and private dining for groups."),
        ("Local produce", "Ingredients from growers and suppliers close to home."),
    ],
    "florist": [
        ("Flowers for every day", "Seasonal bunches and bouquets, made up while you wait."),
        ("Weddings and events", "Bouquets, buttonholes and arrangements designed with you."),
        ("Local delivery", "Same-day delivery on orders placed before noon."),
    ],
    "salon": [
        ("Cuts and colour", "Cuts, colour and styling by an experienced team."),
        ("Treatments", "Conditioning and finishing treatments to keep hair healthy."),
        ("Easy booking", "Book online or call; walk-ins welcome when a chair is free."),
    ],
    "plumber": [
        ("Repairs and leaks", "Fast, tidy repairs for leaks, taps, toilets and radiators."),
        ("Boilers and heating", "Servicing and installation by qualified engineers."),
        ("Clear quotes", "A fixed quote before work starts, with no call-out surprises."),
    ],
}
ALIASES = {
    "cafe": "coffee shop", "café": "coffee shop", "tea room": "coffee shop", "patisserie": "bakery",
    "pizzeria": "restaurant", "bistro": "restaurant", "pub": "restaurant", "bar": "restaurant",
    "flower shop": "florist", "hair salon": "salon", "barber": "salon", "barbershop": "salon",
    "electrician": "plumber", "builder": "plumber",
}  # fmt: skip


def business_kind(business: str) -> str:
    """The known kind behind “family bakery” (bakery), or the words as given."""
    words = business.lower()
    for kind in sorted([*OFFERS, *ALIASES], key=len, reverse=True):
        if kind in words:
            return ALIASES.get(kind, kind)
    return words


def local_business_site(request: GenerationRequest, brand: Brand) -> dict:
    """Fields of a Copy for a local business's site (bakery, café, florist …)."""
    brief = request.brief
    kind = business_kind(brief.business)
    place = brief.location or "[your town]"
    business = brief.business or kind
    offers = OFFERS.get(kind) or [
        ("What we do", f"[Describe what {brand.name} offers, in a sentence or two.]"),
        ("Why people come back", "[What regulars say they love about you.]"),
        ("How to reach us", "[Phone, email and how to find you.]"),
    ]
    booking = any("booking" in s or "book" in s for s in brief.sections)
    cta = "Book a table" if booking and kind in ("restaurant", "coffee shop") else "Book now" if booking else "Visit us"
    return {
        "headline": f"{brand.name} — a {business} in {place}",
        "tagline": f"{business[:1].upper() + business[1:]} · {place}",
        "subheadline": f"{offers[0][1]} Come and see us at {brand.name} in {place}.",
        "features": offers,
        "features_heading": f"At {brand.name}",
        "features_lede": f"What you'll find at our {business}.",
        "steps": [
            ("Find us", f"[Street address], {place}"),
            ("Opening hours", "[Mon–Fri 8:00–17:00 · Sat 9:00–16:00 · Sun closed]"),
            ("Get in touch", "[Phone number] · [email address]"),
        ],
        "steps_heading": "Visit us",
        "steps_lede": f"Everything you need to find {brand.name} in {place}.",
        "metrics": [],
        "quote": "“[A short review from a real customer goes here.]”",
        "quote_by": "[Customer name] (placeholder)",
        "cta": cta,
        "closing": f"We'd love to see you at {brand.name}.",
        "hero_alt": f"An illustration for {brand.name}, a {business} in {place}",
        "contact_lede": (
            f"Send {brand.name} a message and we'll reply as soon as we can."
            if not booking
            else f"Ask for a booking at {brand.name}; we'll confirm by email."
        ),
        "booking": booking,
        "notes": [PLACEHOLDER_NOTE],
    }


def onboarding_sections(request: GenerationRequest, brand_name: str | None) -> list:
    from outputs.generators.copywriting import Section

    who = request.brief.subject or request.brief.audience or "new starters"
    where = brand_name or "[your organisation]"
    return [
        Section(
            f"Welcome, {who}",
            [
                f"This guide walks {who} through onboarding at {where}: what happens before you start, on your "
                "first day, in your first week and over your first month, and who to ask when you are unsure.",
            ],
        ),
        Section(
            "Before your first day",
            [],
            [
                "[Paperwork to return: contract, ID, right-to-work and any registration checks]",
                "[Where and when to arrive, and who will meet you]",
                "[What to bring and what to wear]",
            ],
        ),
        Section(
            "Your first day",
            [
                f"Your first day is about people and places, not performance. Expect a tour, introductions and "
                f"the systems {who} use every day."
            ],
            ["Meet your manager and your buddy", "Get your badge, logins and equipment", "[Site tour: key rooms]"],
        ),
        Section(
            "Your first week",
            [],
            [
                "Shadow an experienced colleague on real work",
                "Complete the mandatory training modules [list them]",
                "Agree your first goals with your manager",
            ],
        ),
        Section(
            "Your first 30 days",
            [
                f"By the end of the first month, {who} should work independently on routine tasks and know where to "
                "escalate the rest."
            ],
            ["A check-in with your manager at 2 and 4 weeks", "Feedback from your buddy", "[Sign-off of competencies]"],
        ),
        Section(
            "Policies, safety and who to ask",
            [],
            [
                "[Health and safety essentials and where the policies live]",
                "[Who to contact for IT, HR and rota questions]",
                "[What to do in an emergency]",
            ],
        ),
        Section(
            "Onboarding checklist",
            [],
            [
                "Paperwork returned",
                "Logins working",
                "Mandatory training done",
                "First goals agreed",
                "30-day review booked",
            ],
        ),
    ]


def subject_sections(request: GenerationRequest, brand_name: str | None) -> list:
    """A piece of writing about the brief's subject: structure written, facts left as placeholders."""
    from outputs.generators.copywriting import Section

    brief = request.brief
    about = brief.subject or (brief.names[0] if brief.names else "") or "[the subject]"
    by = brand_name or "[your organisation]"
    genre = brief.genre or "document"
    if genre == "report":
        return [
            Section("Executive summary", [f"This report looks at {about}: where things stand, what the findings "
                                          "show and what should happen next."]),
            Section("Key findings", [], [f"[Finding 1 about {about}, with its figure and source]", "[Finding 2]",
                                         "[Finding 3]"]),
            Section("Analysis", [f"[What explains the findings about {about}; keep each claim tied to data.]"]),
            Section("Recommendations", [], ["[Recommendation 1, with an owner]", "[Recommendation 2]"]),
            Section("Next steps", [f"[Who does what next about {about}, and when {by} reports back.]"]),
        ]  # fmt: skip
    return [
        Section(
            "Overview",
            [f"This {genre} is about {about}. It sets out what it is, why it matters and what happens next."],
        ),
        Section(
            "Key points",
            [],
            [f"[The first thing readers should know about {about}]", "[The second]", "[The third]"],
        ),
        Section(
            "Why it matters",
            [f"[Why {about} matters to the reader, in two or three sentences.]"],
        ),
        Section(
            "Next steps",
            [f"[What you want the reader to do next, and how to contact {by}.]"],
        ),
    ]


def pitch_sections(request: GenerationRequest, brand_name: str | None) -> list:
    """A pitch deck's usual arc, every claim a placeholder for the founder's own facts."""
    from outputs.generators.copywriting import Section

    name = brand_name or "[your company]"
    about = request.brief.subject or request.brief.business or "[what you do]"
    return [
        Section("The problem", [f"[The problem {name} solves, and who has it]"]),
        Section("Our solution", [f"{name}: {about}.", "[How it works, in one sentence]"]),
        Section("The market", [], ["[Who buys, and how many of them]", "[Why now]"]),
        Section("Business model", [], ["[How you make money]", "[Price and margin]"]),
        Section("Traction", [], ["[Customers, revenue or pilots so far — real figures only]"]),
        Section("Team", [], ["[Founders and what they have done before]"]),
        Section("The ask", [], ["[How much you are raising and what it pays for]"]),
    ]


def invoice_sections(request: GenerationRequest, brand_name: str | None) -> list:
    """An invoice's parts. Command knows none of the facts, so every one is a marked placeholder."""
    from outputs.generators.copywriting import Section

    client = request.brief.names[0] if request.brief.names else "[client name]"
    n = next((v for k, v in request.brief.counts.items() if k in ("items", "lines", "hours")), 3)
    return [
        Section("Invoice details", [], ["Invoice number: [INV-0001]", "Issued: [date]", "Due: [date + 30 days]"]),
        Section("Bill to", [f"{client}", "[Street address, town, postcode]"]),
        Section("Items", [], [f"[Item {i}] — [quantity] × [unit price] = [amount]" for i in range(1, n + 1)]),
        Section("Total", ["[Total due, with tax if it applies]"]),
        Section("Payment", [f"Pay {brand_name or '[your business]'} by bank transfer to [account details]."]),
    ]


def resume_sections(request: GenerationRequest, brand_name: str | None) -> list:
    from outputs.generators.copywriting import Section

    who = request.brief.names[0] if request.brief.names else "[Your name]"
    return [
        Section(who, ["[Role you are looking for] · [town] · [email] · [phone]"]),
        Section("Profile", ["[Two or three sentences on what you do best and what you want next.]"]),
        Section("Experience", [], ["[Job title], [employer], [years] — [one result you are proud of]"]),
        Section("Education", [], ["[Qualification], [school or university], [year]"]),
        Section("Skills", [], ["[Skill]", "[Skill]", "[Skill]"]),
    ]


# Genres whose shape is fixed and whose every fact belongs to the user.
FIXED_FORMS = {"invoice": invoice_sections, "résumé": resume_sections}


SECTION_PLACEHOLDERS = {
    "menu": "[Your menu: dishes or products, with prices]",
    "prices": "[Your prices: each service or product and what it costs]",
    "price list": "[Your prices: each service or product and what it costs]",
    "pricing": "[Your plans and what each costs]",
    "pricing table": "[Your plans and what each costs]",
    "opening hours": "[Mon–Fri 8:00–17:00 · Sat 9:00–16:00 · Sun closed]",
    "gallery": "[Photos of your work go here]",
    "testimonials": "“[A short review from a real customer goes here.]”",
    "faq": "[Common questions and their answers]",
    "map": "[A map or directions to find you]",
    "team section": "[The people behind the business]",
}


def requested_sections(request: GenerationRequest) -> list[tuple[str, str]]:
    """A block for each part the brief names that is not a form (forms are the contact page's)."""
    return [
        (s[:1].upper() + s[1:], SECTION_PLACEHOLDERS.get(s, f"[Your {s} goes here]"))
        for s in request.brief.sections
        if "form" not in s and "signup" not in s
    ]


def subject_site(request: GenerationRequest, brand: Brand, named: str | None) -> dict:
    """Fields of a Copy for a site about a subject that is neither a shop nor a software product:
    an event, a cause, a portfolio. The structure is written; the facts are marked placeholders."""
    brief = request.brief
    about = brief.subject or (brief.names[0] if brief.names else "[your subject]")
    portfolio = "portfolio" in brief.genre or "portfolio" in about.lower()
    headline = f"{named}: {about}" if named else about[:1].upper() + about[1:]
    if portfolio:
        features = [(f"[Project {i}]", "[What it was, who it was for, and a picture]") for i in (1, 2, 3)]
        steps = [("About me", "[Who you are and what you do]"), ("Get in touch", "[email] · [phone]")]
    else:
        features = [
            ("What it is", f"[A sentence or two on {about}]"),
            ("When and where", "[Date, time and place]"),
            ("Who it is for", "[Who should come or take part]"),
        ]
        steps = [("Take part", "[How to sign up or join in]"), ("Get in touch", "[email] · [phone]")]
    return {
        "headline": headline,
        "tagline": about[:1].upper() + about[1:],
        "subheadline": f"Everything about {about} in one place.",
        "features": features,
        "features_heading": "Selected work" if portfolio else f"About {about}",
        "features_lede": "",
        "steps": steps,
        "steps_heading": "About" if portfolio else "Get involved",
        "steps_lede": "",
        "metrics": [],
        "quote": "",
        "quote_by": "",
        "cta": "Get in touch",
        "closing": f"Questions about {about}? Get in touch.",
        "hero_alt": f"An illustration for {about}",
        "contact_lede": "Send a message and we'll reply as soon as we can.",
        "notes": [PLACEHOLDER_NOTE],
    }
