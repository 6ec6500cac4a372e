"""Sentral's side of a generated school: students, persons and households that already exist.

Records are stored flat (relationships as ids), the way the sandbox's Sentral server keeps them.
"""

from __future__ import annotations

from sandbox import names
from sandbox.families import FamilyBuilder, ascii_fold
from sandbox.lookups import GRADE_LABELS, GRADES

SENTRAL_GENDERS = {1: "M", 2: "F", 3: "X", 4: "U"}
ROSTER_VARIANTS = (
    "upper_case_surname",
    "accents_dropped",
    "hyphen_or_apostrophe_dropped",
    "preferred_as_first",
)


class SentralSeed:
    """Adds Sentral records for applications, and tags the applications' truth."""

    def __init__(self, builder: FamilyBuilder) -> None:
        self.builder = builder
        self.students = builder.sentral["students"]
        self.persons = builder.sentral["persons"]
        self.households = builder.sentral["households"]

    def household(self, address: dict, mailing_title: str) -> str:
        household_id = str(self.builder.next_id("household"))
        self.households.append(
            {
                "id": household_id,
                "householdCode": f"HH{household_id}",
                "mailingTitle": mailing_title,
                "postcode": address["postcode"],
                "suburb": address["suburb"],
                "address": address["street_address"],
            }
        )
        return household_id

    def person(
        self,
        first: str,
        last: str,
        *,
        preferred: str = "",
        dob: str | None = None,
        gender: str = "U",
        email: str = "",
        mobile: str = "",
        household: str | None = None,
    ) -> str:
        person_id = str(self.builder.next_id("person"))
        self.persons.append(
            {
                "id": person_id,
                "firstName": first,
                "lastName": last,
                "preferredName": preferred,
                "dateOfBirth": dob,
                "genderCode": gender,
                "email": email,
                "mobile": mobile,
                "primaryHousehold": household,
            }
        )
        return person_id

    def student(self, person_id: str, households: list[str], grade: str) -> dict:
        student_id = str(self.builder.next_id("student"))
        record = {
            "id": student_id,
            "studentCode": f"SC{int(student_id) * 7 % 100000:05d}",
            "refId": self.builder.uuid().upper(),
            "isActive": True,
            "person": person_id,
            "households": households,
            "yearLevel": str(GRADES.index(grade) + 1),
        }
        self.students.append(record)
        return record

    def family_household(self, app: dict) -> str:
        parent = app["user_parent"]
        return self.household(app["residential_address"], f"{parent['title']} {parent['last_name']}".strip())

    def student_for(self, app: dict, first: str, last: str, preferred: str, household: str) -> dict:
        person_id = self.person(
            first,
            last,
            preferred=preferred,
            dob=app["dob"],
            gender=SENTRAL_GENDERS[app["gender"]],
            household=household,
        )
        grade = next(g for g, label in GRADE_LABELS.items() if label == app["entry_grade"])
        return self.student(person_id, [household], grade)

    def tag(self, app: dict, tag: str, **facts: object) -> None:
        truth = self.builder.truth[app["id"]]
        truth["tags"].append(tag)
        truth.update(facts)

    # scenarios ----------------------------------------------------------------------------------

    def sibling_household(self, app: dict) -> None:
        """An older sibling is enrolled: the primary carer is a Sentral person with a household."""
        rng = self.builder.rng
        household = self.family_household(app)
        parent = app["user_parent"]
        carer = self.person(
            parent["first_name"],
            parent["last_name"],
            email=parent["email"],
            mobile=parent["mobile_phone"],
            household=household,
        )
        first = rng.choice([n for n in names.GIRLS + names.BOYS if n != app["first_name"]])
        grade = "12" if app["entry_grade"] != GRADE_LABELS["12"] else "11"
        dob = self.builder.dob_for(grade)
        sibling_person = self.person(first, app["last_name"], dob=dob, gender="U", household=household)
        sibling = self.student(sibling_person, [household], grade)
        app["siblings"].append({"first_name": first, "last_name": app["last_name"], "dob": dob})
        self.tag(
            app,
            "sibling_household",
            sentral_household_id=household,
            sentral_carer_person_id=carer,
            sentral_sibling_student_id=sibling["id"],
        )

    def duplicate(self, app: dict) -> None:
        """The applicant is already a Sentral student, but the application has no external id."""
        household = self.family_household(app)
        student = self.student_for(app, app["first_name"], app["last_name"], app["preferred_name"], household)
        self.tag(app, "duplicate", sentral_student_id=student["id"], student_code=student["studentCode"])

    def has_external_id(self, app: dict) -> None:
        household = self.family_household(app)
        student = self.student_for(app, app["first_name"], app["last_name"], app["preferred_name"], household)
        app["external_id"] = student["id"]
        self.tag(
            app, "has_external_id", sentral_student_id=student["id"], student_code=student["studentCode"]
        )

    def in_sentral(self, app: dict, index: int) -> None:
        """A current student whose Sentral names differ from EnrolHQ's in one of the usual ways."""
        variant = ROSTER_VARIANTS[index % len(ROSTER_VARIANTS)]
        first, last, preferred = app["first_name"], app["last_name"], app["preferred_name"]
        if variant == "upper_case_surname":
            last = last.upper()
        elif variant == "accents_dropped":
            first, last = ascii_fold(first), ascii_fold(last)
        elif variant == "hyphen_or_apostrophe_dropped":
            last = last.replace("-", " ").replace("'", "") if any(c in last for c in "-'") else last.lower()
        else:
            first, preferred = preferred or names.NICKNAMES.get(first, first[:3]), ""
        household = self.family_household(app)
        student = self.student_for(app, first, last, preferred, household)
        self.tag(
            app,
            "in_sentral",
            sentral_student_id=student["id"],
            student_code=student["studentCode"],
            roster_variant=variant,
        )

    def unrelated_student(self) -> None:
        """A student with no EnrolHQ application (enrolled before the school used EnrolHQ)."""
        rng = self.builder.rng
        address = self.builder.address()
        surname = rng.choice(names.SURNAMES)
        household = self.household(address, f"Mr & Mrs {surname}")
        grade = rng.choice(GRADES)
        person_id = self.person(
            rng.choice(names.GIRLS + names.BOYS),
            surname,
            dob=self.builder.dob_for(grade),
            gender=rng.choice("MF"),
            household=household,
        )
        self.student(person_id, [household], grade)
