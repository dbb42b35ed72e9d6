"""The built-in planner's words: what it can correct towards, and what it must leave alone.

Spelling is only ever corrected *towards* DOMAIN_WORDS; ORDINARY_WORDS are never touched even
when they look close to a domain word ("better" is not "letter").
"""

from __future__ import annotations


def _words(text: str) -> list[str]:
    return text.split()


DOMAIN_WORDS = frozenset(
    _words(
        """
    create creating generate build design draft write produce prepare make render compose
    landing page pages website site homepage webpage portfolio dashboard app application
    presentation presentations slides slide deck slideshow keynote pitch
    spreadsheet spreadsheets excel workbook sheet budget forecast tracker table financial
    proposal proposals report reports brochure whitepaper invoice resume document documents
    letter memo article blog newsletter summary contract agreement handbook manual guide
    readme notes brief outline
    logo logos image images illustration banner poster icon picture photo thumbnail graphic
    infographic mockup wallpaper
    video videos animation trailer clip explainer commercial
    audio podcast voiceover narration jingle soundtrack music sound recording
    professional premium modern minimal minimalist elegant playful corporate colorful colourful
    dark light theme responsive pricing testimonials features section sections hero footer
    header navigation contact signup newsletter gallery
    analytics marketing business company startup product products customer customers quarterly
    annual monthly weekly revenue sales investors investor audience enterprise
    please with about include including three five seven
    blue green purple orange yellow black white navy teal grey gray silver gold
    project repository codebase refactor function component tests bug error
    convert export import update improve redesign rewrite translate
    """
    )
)

# Words that are correct English and must never be "corrected" even when close to a domain word.
ORDINARY_WORDS = frozenset(
    _words(
        """
    a an the and or but if then than that this these those there their they them it its is are
    was were be been being have has had do does did done can could should would will shall may
    might must for from with without into onto over under about above below between after
    before during while until again also just only even very really quite more most less least
    some any each every all both either neither none one two three four five six seven eight
    nine ten first second third last next new old good better best bad worse worst big bigger
    small smaller large larger long longer short shorter high higher low lower fast faster slow
    nice clean cleaner clear simple simpler easy easier hard harder fine great cool
    make makes made making take takes took give gives gave get gets got put puts set sets let
    want wants need needs like likes love use uses used using show shows look looks feel feels
    keep keeps help helps tell tells find finds think know see seen try tries add adds added
    remove removes change changes changed fix fixes fixed run runs ran move moves turn
    i me my mine we us our you your yours he she his her him who what which when where why how
    page pages site sheet sheets table tables letter letters later latter matter better bitter
    butter batter title titles little middle simple sample samples people purple couple
    report sport short shirt start stars state states store stored story stories
    part parts party past paste post posts most host cost costs list lists last least test
    tests text texts next best rest west vest nest text
    form forms from front frame frames framework frameworks format formats
    plan plans plane planet plant plants place places space spaces face faces
    line lines link links like likes life live lives file files files mile tile tiles style
    styles
    word words work works world worlds
    draw draws drawing drawings drawn
    deck decks check checks neck
    logo logos lego
    card cards hard board boards
    data date dates day days way ways
    team teams term terms team
    time times name names game games same
    color colour colors colours
    code codes mode modes node nodes
    dark darker light lighter bright
    friendly formal casual bold
    kids children students teachers developers designers founders parents
    email emails mail phone
    landing
    order orders border
    price prices pricing prize
    brand brands band bands hand
    theme themes there these
    image images imagine
    video videos
    audio
    note notes
    deploy deployed publish
    invite invites
    hero heroes
    menu menus
    designer designers designed developer builder builders generator writer writers creator creators maker
    reporter reporters reporting presenter presenting documented documenting imaging
    stories shorts sheep shelf shell sight sign signs slid slim slip slot slow
    page pages
    """
    )
)

COLOURS = _words(
    "black white red green blue navy teal turquoise cyan purple violet magenta pink orange "
    "yellow gold golden silver grey gray beige brown cream coral mint emerald indigo lavender "
    "maroon olive charcoal"
)

AUDIENCES = {
    "b2b": "B2B",
    "b2c": "B2C",
    "enterprise": "enterprise buyers",
    "enterprises": "enterprise buyers",
    "investors": "investors",
    "investor": "investors",
    "developers": "developers",
    "students": "students",
    "kids": "children",
    "children": "children",
    "small businesses": "small businesses",
    "small business": "small businesses",
    "startups": "startups",
    "parents": "parents",
    "teachers": "teachers",
    "recruiters": "recruiters",
    "customers": "customers",
    "clients": "clients",
    "executives": "executives",
    "the board": "the board",
    "employees": "employees",
    "new hires": "new hires",
}

INDUSTRIES = {
    "fintech": "fintech",
    "saas": "SaaS",
    "healthcare": "healthcare",
    "health": "healthcare",
    "e-commerce": "e-commerce",
    "ecommerce": "e-commerce",
    "real estate": "real estate",
    "restaurant": "hospitality",
    "cafe": "hospitality",
    "coffee": "hospitality",
    "hotel": "hospitality",
    "education": "education",
    "edtech": "education",
    "legal": "legal",
    "law firm": "legal",
    "logistics": "logistics",
    "fitness": "fitness",
    "gym": "fitness",
    "analytics": "data and analytics",
    "insurance": "insurance",
    "crypto": "crypto",
    "nonprofit": "nonprofit",
    "non-profit": "nonprofit",
    "gaming": "gaming",
    "travel": "travel",
}

TONES = {
    "premium": "premium",
    "luxury": "premium",
    "playful": "playful",
    "fun": "playful",
    "formal": "formal",
    "corporate": "corporate",
    "minimal": "minimal",
    "minimalist": "minimal",
    "elegant": "elegant",
    "bold": "bold",
    "friendly": "friendly",
    "modern": "modern",
    "professional": "professional",
    "serious": "serious",
    "warm": "warm",
}
