#!/usr/bin/env python3
"""Write the 200 synthetic English news paragraphs used by scripts/bench-translate.

The paragraphs are made here from sentence templates written for wirepipe (no outside
text), with a fixed random seed, so the fixture is reproducible and free to ship:
    scripts/bench-translate-gen.py > tests/fixtures/translate/news-paragraphs.txt
One paragraph per line; 200 lines.
"""
import random

PEOPLE = ["Maria Lopez", "John Carter", "Anna Schmidt", "Peter Novak", "Laura Rossi",
          "David Kim", "Sarah Miller", "Thomas Weber", "Elena Petrova", "James Wilson",
          "Sofia Costa", "Michael Brown", "Ingrid Olsen", "Ahmed Hassan", "Claire Dubois"]
ROLES = ["the finance minister", "the prime minister", "a government spokesman",
         "the mayor", "the central bank governor", "a union leader", "the interior minister",
         "the chief executive", "an opposition leader", "the health minister"]
PLACES = ["Berlin", "Madrid", "London", "Paris", "Rome", "Warsaw", "Lisbon", "Vienna",
          "Brussels", "Dublin", "Athens", "Prague", "Stockholm", "Oslo", "Helsinki"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
THINGS = ["the new budget", "the energy plan", "the trade agreement", "the housing law",
          "the pension reform", "the transport strike", "the election result",
          "the water shortage", "the hospital project", "the tax proposal"]
GROUPS = ["farmers", "teachers", "nurses", "rail workers", "students", "small businesses",
          "pensioners", "doctors", "truck drivers", "local councils"]
SENTENCES = [
    "{person}, {role}, said on {day} that {thing} would be presented to parliament next month.",
    "Police in {place} arrested {n} people after protests against {thing} turned violent on {day}.",
    "The government in {place} expects the economy to grow by {pct} percent this year, {role} said.",
    "{group} in {place} have warned that {thing} could cost them more than {n} million euros.",
    "Talks between the two sides ended without agreement late on {day}, according to officials.",
    "{person} told reporters in {place} that the plan was fair and that nobody would lose money.",
    "Prices for food and fuel rose by {pct} percent in the last twelve months, the statistics office said.",
    "Critics say {thing} does not go far enough and have called for a vote before the summer.",
    "The central bank kept interest rates unchanged on {day} and said inflation was slowing.",
    "About {n} thousand people marched through the centre of {place} carrying flags and banners.",
    "The company said it would cut {n} jobs and close two factories by the end of next year.",
    "{role} rejected the criticism and said the figures showed a clear improvement.",
    "Heavy rain caused flooding in several villages near {place}, and some roads were closed.",
    "The report, published on {day}, found that waiting times at hospitals had almost doubled.",
    "{group} will meet ministers in {place} next week to discuss {thing}.",
    "Shares in the bank fell {pct} percent after it reported lower profits for the third quarter.",
    "The new railway line between {place} and {place2} is due to open in the spring.",
    "{person} said the country needed more investment in schools, roads and clean energy.",
    "Officials have not said how much {thing} will cost, but analysts put the figure at {n} billion euros.",
    "The opposition said it would ask the constitutional court to review {thing}.",
    "Firefighters brought the blaze under control after several hours, and nobody was hurt.",
    "Unemployment fell to {pct} percent in October, the lowest level in more than a decade.",
    "A spokesman for the ministry declined to comment on the report when asked on {day}.",
    "{group} say their wages have not kept up with rents in {place} and other large cities.",
]


def paragraph(rng):
    out = []
    for _ in range(rng.randint(2, 5)):
        place, place2 = rng.sample(PLACES, 2)
        s = rng.choice(SENTENCES).format(
            person=rng.choice(PEOPLE), role=rng.choice(ROLES), place=place, place2=place2,
            day=rng.choice(DAYS), thing=rng.choice(THINGS), group=rng.choice(GROUPS),
            n=rng.randint(2, 90),
            pct=rng.choice(["1.2", "2.5", "3.1", "4.8", "0.7", "6.4", "5.3", "2.9"]))
        out.append(s[0].upper() + s[1:])
    return " ".join(out)


def main():
    rng = random.Random(20261128)
    seen = set()
    while len(seen) < 200:
        p = paragraph(rng)
        if p not in seen:
            seen.add(p)
            print(p)


if __name__ == "__main__":
    main()
