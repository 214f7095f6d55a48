"""The phrase bank of synthetic conversations: topics with what callers and agents say about them."""

from __future__ import annotations

import random
from dataclasses import dataclass

# Slot values: proper nouns and numbers give the transcripts a long tail of rare words, so that a
# search for a city or a name is as selective as it would be in real traffic.
NAMES = (
    "Alice", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hiroshi", "Ingrid", "Jamal", "Katya",
    "Luca", "Mei", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Samir", "Tomasz", "Ursula", "Victor",
    "Wanda", "Xavier", "Yusuf", "Zofia", "Amara", "Bjorn", "Camille", "Dario", "Esther", "Felix", "Gustavo",
    "Hana", "Ivo", "Jonas", "Kemal", "Lotte", "Matteo", "Noor", "Olga", "Pavel", "Rania", "Sven", "Tariq",
)
CITIES = (
    "Lisbon", "Porto", "Madrid", "Seville", "Lyon", "Marseille", "Geneva", "Zurich", "Munich", "Hamburg",
    "Vienna", "Prague", "Krakow", "Warsaw", "Dublin", "Cork", "Bristol", "Leeds", "Glasgow", "Oslo",
    "Bergen", "Malmo", "Aarhus", "Tallinn", "Riga", "Vilnius", "Naples", "Turin", "Bologna", "Ghent",
    "Utrecht", "Rotterdam", "Antwerp", "Bilbao", "Valencia", "Toulouse", "Nantes", "Ljubljana",
)
PRODUCTS = (
    "espresso machine", "standing desk", "rain jacket", "hiking boots", "wireless headphones", "air purifier",
    "coffee grinder", "yoga mat", "electric kettle", "bike helmet", "winter duvet", "cast iron pan",
    "phone case", "desk lamp", "travel backpack", "smart thermostat", "robot vacuum", "gaming chair",
    "blender", "sleeping bag", "tent", "water filter", "office chair", "kids scooter",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TIMES = (
    "nine", "ten thirty", "noon", "one fifteen", "three", "half past four", "six", "seven thirty", "eight"
)
PLANS = ("basic", "standard", "premium", "family", "business")


@dataclass(frozen=True, kw_only=True)
class Topic:
    """What a conversation is about: caller lines, agent lines, the tools and agent that handle it."""

    name: str
    weight: float
    user: tuple[str, ...]
    assistant: tuple[str, ...]
    tools: tuple[str, ...]
    specialist: str


TOPICS = (
    Topic(
        name="refund", weight=8, specialist="Billing", tools=("lookup_order", "issue_refund"),
        user=(
            "I would like a refund for order {order}.",
            "The {product} arrived broken, can I get my money back?",
            "How long does a refund take to reach my card?",
            "I returned the {product} last {day} and still have no refund.",
            "Can you refund the {amount} euros you charged twice?",
            "I want to send the {product} back for a refund.",
        ),
        assistant=(
            "I have started a refund of {amount} euros for order {order}.",
            "Refunds usually reach your card within five to seven working days.",
            "I can see the return of the {product} was received in our {city} warehouse.",
            "The refund for order {order} was approved this morning.",
            "I am sorry the {product} arrived damaged; you do not need to send it back for the refund.",
        ),
    ),
    Topic(
        name="cancellation", weight=6, specialist="Billing", tools=("lookup_order", "cancel_subscription"),
        user=(
            "I want to cancel my {plan} subscription.",
            "Is there a cancellation fee if I cancel before {day}?",
            "Please cancel order {order}, I ordered the wrong {product}.",
            "Why was I charged a cancellation fee of {amount} euros?",
            "Can I cancel without paying the cancellation fee?",
        ),
        assistant=(
            "Your {plan} subscription will end at the close of this billing period.",
            "There is no cancellation fee within the first fourteen days.",
            "A cancellation fee of {amount} euros applies after the trial month.",
            "Order {order} is cancelled and you will not be charged.",
            "I have waived the cancellation fee as a one-off gesture.",
        ),
    ),
    Topic(
        name="delivery", weight=12, specialist="Support", tools=("lookup_order", "track_parcel"),
        user=(
            "Where is my order {order}? It was due on {day}.",
            "The courier says delivered but I have nothing at my door in {city}.",
            "Can you deliver the {product} to my office instead?",
            "My parcel has been stuck in {city} for a week.",
            "Can I change the delivery day to {day}?",
        ),
        assistant=(
            "Order {order} left our {city} depot and should arrive on {day}.",
            "The tracking shows the parcel at the local pickup point in {city}.",
            "I have asked the courier to redeliver on {day} between {time} and six.",
            "I have opened an investigation with the courier about the missing parcel.",
            "The delivery address for order {order} is now your office.",
        ),
    ),
    Topic(
        name="billing", weight=10, specialist="Billing", tools=("lookup_invoice",),
        user=(
            "I do not recognise a charge of {amount} euros on my statement.",
            "Can you send me the invoice for order {order}?",
            "Why is my bill higher this month?",
            "I need to update the card you charge every month.",
            "Can I pay the {plan} plan yearly instead of monthly?",
        ),
        assistant=(
            "The charge of {amount} euros is your {plan} plan renewal.",
            "I have sent the invoice for order {order} to your email address.",
            "Your bill went up because the promotional price ended on {day}.",
            "You can update your payment card under account settings, billing.",
            "Yearly billing for the {plan} plan saves two months.",
        ),
    ),
    Topic(
        name="account", weight=8, specialist="Support", tools=("reset_password", "lookup_account"),
        user=(
            "I cannot log in, I forgot my password.",
            "My account is locked after too many attempts.",
            "Please change the email address on my account.",
            "I never received the verification code.",
            "Can you delete my account and my data?",
        ),
        assistant=(
            "I have sent a password reset link to the address ending in {city_lower}.",
            "Your account is unlocked; please try again in a minute.",
            "For your security I have sent a confirmation to the old address first.",
            "The verification code can take up to two minutes; check your spam folder too.",
            "I have filed the deletion request; it completes within thirty days.",
        ),
    ),
    Topic(
        name="booking", weight=15, specialist="Bookings", tools=("check_availability", "book_table"),
        user=(
            "I would like to book a table for {people} on {day} at {time}.",
            "Do you have anything free this {day} evening in {city}?",
            "Can I move my reservation from {day} to the weekend?",
            "We are {people} people, one of them in a wheelchair.",
            "Please book the terrace if it is not raining.",
        ),
        assistant=(
            "I have a table for {people} on {day} at {time}; shall I book it?",
            "Your reservation under the name {name} is confirmed for {day}.",
            "The {city} restaurant is fully booked on {day}, but {time} on Sunday is free.",
            "The ground floor is step-free and I have noted the wheelchair.",
            "The terrace is booked; we move you inside if it rains.",
        ),
    ),
    Topic(
        name="hours", weight=8, specialist="Concierge", tools=("opening_hours",),
        user=(
            "What time do you open on {day}?",
            "Is the {city} store open on public holidays?",
            "Until when can I call the support line?",
            "Are you open late on {day}?",
        ),
        assistant=(
            "On {day} we open at {time} and close at eight in the evening.",
            "The {city} store is closed on public holidays.",
            "The support line is staffed from eight in the morning to ten at night.",
            "We stay open until nine on Thursdays.",
        ),
    ),
    Topic(
        name="product", weight=10, specialist="Support", tools=("product_info", "check_stock"),
        user=(
            "Is the {product} back in stock?",
            "Does the {product} come with a warranty?",
            "What is the difference between the two {product} models?",
            "Can I pick up a {product} in {city} today?",
            "How do I descale the {product}?",
        ),
        assistant=(
            "The {product} is back in stock in the {city} store from {day}.",
            "Every {product} has a two-year warranty, extendable to five.",
            "The newer {product} is quieter and uses less power.",
            "Hold the two buttons for five seconds to start descaling.",
            "I have reserved a {product} for you at the {city} store until {day}.",
        ),
    ),
    Topic(
        name="complaint", weight=5, specialist="Support", tools=("open_ticket",),
        user=(
            "This is the third time I call about the same problem.",
            "Your driver was rude and left the {product} in the rain.",
            "I am very disappointed with the service in {city}.",
            "I want to speak to a manager.",
        ),
        assistant=(
            "I am sorry; I have opened ticket {order} and escalated it to a manager.",
            "Thank you for telling us; the {city} team will call you back by {day}.",
            "I understand your frustration and I will make sure this gets fixed.",
            "As an apology I have added a voucher of {amount} euros to your account.",
        ),
    ),
    Topic(
        name="address", weight=5, specialist="Support", tools=("lookup_account", "update_address"),
        user=(
            "I moved to {city}, please update my address.",
            "Can the invoices go to a different address than the deliveries?",
            "My street name is spelled wrong on the label.",
        ),
        assistant=(
            "Your delivery address is now in {city}; open orders will follow.",
            "Invoices and deliveries can have separate addresses; I have set both.",
            "I have corrected the street name for order {order}.",
        ),
    ),
    Topic(
        name="upgrade", weight=8, specialist="Billing", tools=("lookup_account", "change_plan"),
        user=(
            "What do I get if I upgrade to {plan}?",
            "Can I downgrade to the {plan} plan next month?",
            "Is there a discount for students on the {plan} plan?",
            "I want to add my partner {name} to the family plan.",
        ),
        assistant=(
            "The {plan} plan adds priority support and free delivery.",
            "Your plan changes to {plan} at the next renewal on {day}.",
            "Students get twenty percent off any plan with a valid card.",
            "I have invited {name} to join your family plan.",
        ),
    ),
    Topic(
        name="weather", weight=5, specialist="Concierge", tools=("get_weather",),
        user=(
            "Will it rain in {city} on {day}?",
            "Is it warm enough to sit outside tonight?",
            "What is the forecast for the weekend in {city}?",
        ),
        assistant=(
            "In {city} on {day} expect light rain in the morning and sun later.",
            "It will be about eighteen degrees tonight, warm enough for the terrace.",
            "The weekend in {city} looks dry and windy.",
        ),
    ),
)

GREETINGS = (
    "Hello, thanks for calling, how can I help you today?",
    "Hi, you are speaking with the virtual assistant, what can I do for you?",
    "Good morning, how can I help?",
    "Welcome back {name}, what can I do for you today?",
)
OPENERS = ("Hi.", "Hello, yes.", "Good morning.", "Hey there.", "Hi, it is {name} here.", "Yes, hello.")
ACKNOWLEDGEMENTS = (
    "Let me check that for you.",
    "One moment please.",
    "Thanks, I have found your details.",
    "Sure, I can help with that.",
    "Got it.",
    "I understand.",
)
FOLLOW_UPS = (
    "Okay, thank you.",
    "And how long will that take?",
    "Great, that helps.",
    "Sorry, can you repeat that?",
    "Can you also send that by email?",
    "Perfect.",
    "Hmm, okay.",
)
CLOSINGS = (
    "Is there anything else I can help you with?",
    "You will get a confirmation by email shortly.",
    "Thank you for calling, have a nice day.",
)
GOODBYES = ("No, that is all, thanks.", "Thanks, bye.", "That is everything, goodbye.", "Thank you, bye bye.")


def fill(template: str, rng: random.Random) -> str:
    """A phrase with its slots filled at random (only the slots it names are drawn)."""
    if "{" not in template:
        return template
    values: dict[str, object] = {}
    for slot in ("name", "city", "city_lower", "order", "day", "time", "product", "amount", "people", "plan"):
        if "{" + slot + "}" in template:
            values[slot] = _slot(slot, rng)
    return template.format(**values)


def _slot(slot: str, rng: random.Random) -> object:
    """One random value for a slot."""
    if slot == "name":
        return rng.choice(NAMES)
    if slot == "city":
        return rng.choice(CITIES)
    if slot == "city_lower":
        return rng.choice(CITIES).lower()[:3]
    if slot == "order":
        return rng.randint(100_000, 999_999)
    if slot == "day":
        return rng.choice(DAYS)
    if slot == "time":
        return rng.choice(TIMES)
    if slot == "product":
        return rng.choice(PRODUCTS)
    if slot == "amount":
        return rng.choice((9, 12, 15, 19, 24, 29, 35, 49, 59, 79, 99, 120, 149))
    if slot == "people":
        return rng.choice(("two", "three", "four", "five", "six", "eight"))
    return rng.choice(PLANS)
