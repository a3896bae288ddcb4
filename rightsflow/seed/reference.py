"""Reference lists the synthetic families are drawn from: names by heritage, places, schools, GPs,
agencies and needs. Invented, but shaped like the areas they describe."""

from __future__ import annotations

from dataclasses import dataclass

from .common import CF, CSC, EH, FT, TF, WFH

# -- reference lists ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Heritage:
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]
    ethnicity: str
    languages: tuple[str, ...]
    religions: tuple[str, ...]
    nationalities: tuple[str, ...]
    countries: tuple[str, ...]
    born_abroad: float
    weights: tuple[float, float, float]  # lewisham, westminster, manchester


def _t(names: str) -> tuple[str, ...]:
    return tuple(names.split())


# Ethnicity in the ONS 2021 census categories (short headings); religion as the census asks it.
_WB = "White: English, Welsh, Scottish, Northern Irish or British"
_HERITAGES: dict[str, _Heritage] = {
    "white_british": _Heritage(
        _t(
            "Sarah Emma Laura Gemma Kelly Rebecca Charlotte Hannah Lucy Jade Stacey Amy Chloe Jessica "
            "Olivia Amelia Isla Poppy Evie Lily Freya Ella Grace Mia Ruby Leanne Danielle Kirsty"
        ),
        _t(
            "James Daniel Liam Ryan Jack Thomas Callum Lewis Connor Kieran Jamie Harry Oliver George "
            "Alfie Noah Charlie Leo Archie Oscar Tyler Reece Jordan Dean Craig Wayne Lee Darren"
        ),
        _t(
            "Smith Jones Taylor Brown Wilson Evans Thomas Johnson Roberts Walker Wright Robinson "
            "Thompson White Hughes Edwards Green Hall Wood Harris Clarke Jackson Turner Hill Moore "
            "Cooper Ward Morris King Baker Harrison Fletcher Barnes Holmes Lloyd Marsh Parker Bennett"
        ),
        _WB,
        ("English",),
        ("No religion", "Christian", "No religion", "Not stated"),
        ("British",),
        ("United Kingdom",),
        0.0,
        (0.34, 0.30, 0.50),
    ),
    "irish": _Heritage(
        _t("Siobhan Niamh Aoife Ciara Roisin Orla Sinead"),
        _t("Sean Patrick Conor Declan Ciaran Eoin Padraig"),
        _t("Murphy Kelly O'Brien Byrne Walsh Ryan Doyle O'Connor Gallagher McCarthy Quinn Brennan"),
        "White: Irish",
        ("English",),
        ("Christian", "No religion"),
        ("Irish",),
        ("Ireland",),
        0.5,
        (0.03, 0.04, 0.04),
    ),
    "black_caribbean": _Heritage(
        _t("Shanice Tia Kayla Aaliyah Simone Monique Keisha Jada Tianna Chantelle"),
        _t("Marcus Jerome Tyrone Kai Jaden Andre Dwayne Malachi Kyle Devon"),
        _t("Campbell Williams Francis Grant Henry Morgan Reid Bailey Stewart Gordon Samuels Richards"),
        "Black or Black British: Caribbean",
        ("English",),
        ("Christian", "No religion", "Christian"),
        ("British", "Jamaican"),
        ("United Kingdom", "Jamaica"),
        0.15,
        (0.12, 0.04, 0.04),
    ),
    "black_african": _Heritage(
        _t("Blessing Chioma Adaeze Folake Abena Ama Precious Favour Temi Ngozi Efua Mercy"),
        _t("Chinedu Emeka Oluwaseun Tobi Kwame Kofi Samuel Joshua Femi Kelechi Yaw Ebuka"),
        _t("Okafor Adeyemi Okonkwo Mensah Boateng Asante Adebayo Nwosu Owusu Eze Balogun Oyelaran"),
        "Black or Black British: African",
        ("English", "Yoruba", "Igbo", "Twi"),
        ("Christian", "Christian", "Muslim"),
        ("Nigerian", "Ghanaian"),
        ("Nigeria", "Ghana"),
        0.6,
        (0.13, 0.06, 0.07),
    ),
    "somali": _Heritage(
        _t("Amina Hodan Fadumo Ayan Sagal Hibo Nasra Ifrah"),
        _t("Abdi Abdirahman Hassan Yusuf Ismail Liban Mahad Guled"),
        _t("Warsame Farah Omar Jama Osman Aden Dahir Egal"),
        "Black or Black British: African",
        ("Somali", "English"),
        ("Muslim",),
        ("Somali", "British"),
        ("Somalia",),
        0.7,
        (0.02, 0.05, 0.03),
    ),
    "bangladeshi": _Heritage(
        _t("Nusrat Tahmina Sabrina Farzana Rumana Jasmin Shirin"),
        _t("Rayhan Shahid Jamal Rafiq Sohel Tanvir Ashraf"),
        _t("Rahman Islam Uddin Miah Chowdhury Hoque Ali"),
        "Asian or Asian British: Bangladeshi",
        ("Bengali", "Sylheti", "English"),
        ("Muslim",),
        ("Bangladeshi", "British"),
        ("Bangladesh",),
        0.6,
        (0.02, 0.08, 0.03),
    ),
    "pakistani": _Heritage(
        _t("Ayesha Maryam Hafsa Zara Sana Iqra Mehwish"),
        _t("Imran Bilal Hamza Zain Ayaan Tariq Usman"),
        _t("Khan Hussain Iqbal Akhtar Butt Malik Qureshi Rashid"),
        "Asian or Asian British: Pakistani",
        ("Urdu", "Punjabi", "English"),
        ("Muslim",),
        ("Pakistani", "British"),
        ("Pakistan",),
        0.5,
        (0.02, 0.03, 0.10),
    ),
    "indian": _Heritage(
        _t("Priya Anjali Simran Kavita Pooja Neha Meera"),
        _t("Rahul Arjun Sanjay Rohan Vikram Amit Nikhil"),
        _t("Patel Shah Sharma Gill Mistry Mehta Rao Nair"),
        "Asian or Asian British: Indian",
        ("Gujarati", "Punjabi", "Tamil", "English"),
        ("Hindu", "Sikh", "No religion"),
        ("Indian", "British"),
        ("India",),
        0.5,
        (0.03, 0.04, 0.03),
    ),
    "eastern_european": _Heritage(
        _t("Zofia Katarzyna Agnieszka Maja Oliwia Ioana Elena Andreea Gabriela Ruta"),
        _t("Jakub Piotr Tomasz Kacper Mateusz Andrei Ionut Mihai Lukas Marius"),
        _t("Nowak Wojcik Kaczmarek Mazur Krawczyk Popescu Ionescu Popa Dumitru Petrauskas"),
        "White: Other White",
        ("Polish", "Romanian", "Lithuanian"),
        ("Christian", "No religion"),
        ("Polish", "Romanian", "Lithuanian"),
        ("Poland", "Romania", "Lithuania"),
        0.9,
        (0.06, 0.06, 0.05),
    ),
    "turkish_kurdish": _Heritage(
        _t("Elif Zeynep Ayse Emine Derya Berfin"),
        _t("Mehmet Mustafa Emre Baran Serkan Deniz"),
        _t("Yilmaz Demir Kaya Celik Aydin Ozturk Arslan"),
        "Other ethnic group: Any other ethnic group",
        ("Turkish", "Kurdish"),
        ("Muslim", "No religion"),
        ("Turkish",),
        ("Turkey",),
        0.8,
        (0.04, 0.03, 0.01),
    ),
    "chinese_vietnamese": _Heritage(
        _t("Mei Ling Xin Yan Thi Lan"),
        _t("Wei Jun Hao Ming Minh Tuan"),
        _t("Chen Wang Zhang Liu Nguyen Tran Pham"),
        "Asian or Asian British: Chinese",
        ("Mandarin", "Cantonese", "Vietnamese"),
        ("No religion", "Buddhist"),
        ("Chinese", "Vietnamese"),
        ("China", "Vietnam", "Hong Kong"),
        0.7,
        (0.03, 0.04, 0.02),
    ),
    "arab": _Heritage(
        _t("Layla Nour Mariam Rania Huda Yasmin"),
        _t("Omar Karim Youssef Khalid Ahmad Samir"),
        _t("Haddad Mansour Saleh Nasser Aziz Al-Sayed Hamdan"),
        "Other ethnic group: Arab",
        ("Arabic",),
        ("Muslim",),
        ("Iraqi", "Syrian", "Sudanese", "Moroccan"),
        ("Iraq", "Syria", "Sudan", "Morocco"),
        0.8,
        (0.02, 0.12, 0.03),
    ),
    "lusophone_latin": _Heritage(
        _t("Ana Beatriz Mariana Camila Larissa Valentina"),
        _t("Joao Pedro Lucas Gabriel Rafael Mateo"),
        _t("Silva Santos Oliveira Pereira Costa Ferreira Rodrigues Gomez"),
        "White: Other White",
        ("Portuguese", "Spanish"),
        ("Christian",),
        ("Portuguese", "Brazilian", "Colombian"),
        ("Portugal", "Brazil", "Colombia"),
        0.85,
        (0.04, 0.08, 0.01),
    ),
    "eritrean": _Heritage(
        _t("Helen Selam Senait Saba"),
        _t("Dawit Yonas Filmon Samson"),
        _t("Tesfay Gebremedhin Berhane Haile Kidane"),
        "Black or Black British: African",
        ("Tigrinya", "Amharic"),
        ("Christian", "Muslim"),
        ("Eritrean", "Ethiopian"),
        ("Eritrea", "Ethiopia"),
        0.85,
        (0.01, 0.03, 0.03),
    ),
}
_HERITAGE_KEYS = tuple(_HERITAGES)
# Camden takes Westminster's column (inner London) of the heritage weights.
_AREA_INDEX = {"lewisham": 0, "westminster": 1, "manchester": 2, "camden": 1}
_MIXED = {
    "black_caribbean": "Mixed: White and Black Caribbean",
    "black_african": "Mixed: White and Black African",
    "somali": "Mixed: White and Black African",
    "eritrean": "Mixed: White and Black African",
    "bangladeshi": "Mixed: White and Asian",
    "pakistani": "Mixed: White and Asian",
    "indian": "Mixed: White and Asian",
    "chinese_vietnamese": "Mixed: White and Asian",
}

# Older-sounding names for neighbours, relatives and other informants.
_INFORMANT_FEMALE = _t("Doris Margaret Pauline Brenda Jean Patricia Maureen Sandra Carol Linda Janet Gloria")
_INFORMANT_MALE = _t("Derek Keith Trevor Roy Colin Barry Clive Alan Graham Desmond")
_INFORMANT_SURNAMES = _t("Kemp Price Pike Dawson Hurst Fowler Chambers Marshall Webb Lambert Sutton Ellis")
_INFORMANT_ROLES = ("A neighbour", "A neighbour", "A family friend", "A member of the public", "A relative")

_STREETS: dict[str, tuple[tuple[str, str], ...]] = {
    "lewisham": (
        ("SE4", "Brockley Road"),
        ("SE4", "Crofton Park Road"),
        ("SE4", "Adelaide Avenue"),
        ("SE6", "Rushey Green"),
        ("SE6", "Bromley Road"),
        ("SE6", "Sangley Road"),
        ("SE6", "Torridon Road"),
        ("SE6", "Bellingham Road"),
        ("SE8", "Deptford High Street"),
        ("SE8", "Evelyn Street"),
        ("SE12", "Baring Road"),
        ("SE12", "Burnt Ash Hill"),
        ("SE13", "Ladywell Road"),
        ("SE13", "Hither Green Lane"),
        ("SE13", "Lee High Road"),
        ("SE14", "Lewisham Way"),
        ("SE14", "New Cross Road"),
        ("SE23", "Stanstead Road"),
        ("SE23", "Honor Oak Park"),
        ("SE23", "Brockley Rise"),
        ("SE26", "Sydenham Road"),
        ("SE26", "Kirkdale"),
        ("SE26", "Mayow Road"),
        ("BR1", "Downham Way"),
    ),
    "westminster": (
        ("SW1V", "Lupus Street"),
        ("SW1V", "Warwick Way"),
        ("SW1V", "Tachbrook Street"),
        ("SW1V", "Cambridge Street"),
        ("SW1V", "Belgrave Road"),
        ("SW1P", "Vincent Square"),
        ("SW1P", "Horseferry Road"),
        ("SW1P", "Rochester Row"),
        ("SW1P", "Page Street"),
        ("W2", "Westbourne Park Road"),
        ("W2", "Porchester Road"),
        ("W9", "Harrow Road"),
        ("W9", "Elgin Avenue"),
        ("W9", "Shirland Road"),
        ("NW8", "Church Street"),
        ("NW8", "Lisson Grove"),
        ("W10", "Fifth Avenue"),
    ),
    "camden": (
        ("NW1", "Plender Street"),
        ("NW1", "Camden Street"),
        ("NW1", "Royal College Street"),
        ("NW5", "Prince of Wales Road"),
        ("NW5", "Queen's Crescent"),
        ("NW6", "Kilburn Vale"),
        ("NW6", "Abbey Road"),
        ("WC1", "Marchmont Street"),
        ("N19", "Dartmouth Park Hill"),
        ("NW3", "Fleet Road"),
    ),
    "manchester": (
        ("M14", "Wilmslow Road"),
        ("M14", "Claremont Road"),
        ("M14", "Platt Lane"),
        ("M16", "Princess Road"),
        ("M11", "Ashton Old Road"),
        ("M12", "Hyde Road"),
        ("M13", "Stockport Road"),
        ("M13", "Plymouth Grove"),
        ("M8", "Cheetham Hill Road"),
        ("M9", "Rochdale Road"),
        ("M9", "Moston Lane"),
        ("M40", "Oldham Road"),
        ("M18", "Gorton Lane"),
        ("M22", "Brownley Road"),
        ("M22", "Greenwood Road"),
        ("M19", "Kingsway"),
        ("M19", "Burnage Lane"),
    ),
}
_TOWN = {"lewisham": "London", "westminster": "London", "manchester": "Manchester", "camden": "London"}
_LANDLINE = {
    "lewisham": "020 7946 0",
    "westminster": "020 7946 0",
    "manchester": "0161 496 0",
    "camden": "020 7946 0",
}
_BUILDINGS = _t(
    "Elmhurst Ashdown Beaumont Carlton Delamere Fairfield Grosvenor Hawthorn Kingsley "
    "Linden Marlowe Norbury Oakfield Priory Redwood Stanton Thornbury Willow"
)
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # letters used in the inward code (never C, I, K, M, O, V)
_PLACES = {
    "lewisham": _t("Catford Brockley Ladywell Sydenham Deptford Lee Downham Bellingham Crofton Honor-Oak"),
    "westminster": _t(
        "Pimlico Westbourne Maida-Vale Queen's-Park Lisson-Grove Paddington Millbank Churchill"
    ),
    "camden": _t("Somers-Town Kentish-Town Gospel-Oak Kilburn Camden-Town Bloomsbury Belsize Highgate"),
    "manchester": _t(
        "Moss-Side Rusholme Gorton Longsight Cheetham Moston Wythenshawe Burnage Levenshulme Hulme"
    ),
}
_PRIMARY = (
    "Primary School",
    "Primary Academy",
    "Community Primary School",
    "CE Primary School",
    "RC Primary School",
)
_SECONDARY = ("Academy", "High School", "School", "College")
_GP_KINDS = ("Medical Centre", "Surgery", "Group Practice", "Health Centre", "Family Practice")
_HEALTH_VISITING = {
    "lewisham": "Lewisham and Greenwich NHS Trust Health Visiting",
    "westminster": "Central London Community Healthcare NHS Trust Health Visiting",
    "manchester": "Manchester University NHS Foundation Trust Health Visiting",
    "camden": "Whittington Health NHS Trust Health Visiting",
}
_POLICE = {
    "lewisham": "Metropolitan Police",
    "westminster": "Metropolitan Police",
    "manchester": "Greater Manchester Police",
    "camden": "Metropolitan Police",
}

_STAFF_ROLES = {
    FT: ("Family Practitioner",) * 5 + ("Senior Family Practitioner", "Team Manager"),
    CSC: ("Social Worker",) * 5
    + (
        "Senior Social Worker",
        "Team Manager",
        "Family Support Worker",
        "Child Protection Chair",
        "Independent Reviewing Officer",
    ),
    EH: ("Early Help Practitioner",) * 4 + ("Lead Professional", "Early Help Coordinator", "Team Manager"),
    WFH: ("Family Navigator",) * 3
    + ("Family Support Worker",) * 2
    + ("Early Help Practitioner", "Hub Manager"),
    TF: ("Keyworker",) * 5 + ("Senior Keyworker", "Thriving Families Coordinator", "Team Manager"),
    CF: ("Family Support Worker",) * 4 + ("Social Worker", "Senior Practitioner", "Team Manager"),
}
_STAFF_COUNT = 30

_CHILD_HEALTH = (
    "Asthma (uses an inhaler)",
    "Eczema",
    "ADHD, diagnosed by the community paediatrician",
    "Autism spectrum condition; EHC plan in place",
    "Speech and language delay",
    "Type 1 diabetes",
    "Anxiety; on the CAMHS waiting list",
    "Epilepsy",
    "Sickle cell disease",
    "Hearing impairment (hearing aids)",
    "Low mood; school counsellor involved",
)
_ADULT_HEALTH = (
    "Depression; prescribed antidepressants by the GP",
    "Anxiety",
    "Postnatal depression",
    "Back injury; unable to work",
    "Alcohol misuse (in recovery)",
    "Type 2 diabetes",
    "Long-term pain condition",
    "PTSD following domestic abuse",
)
_BENEFITS = (
    "Universal Credit; Child Benefit",
    "Child Benefit",
    "Universal Credit (housing element); Child Benefit",
    "Carer's Allowance; Child Benefit",
    "Personal Independence Payment; Universal Credit",
    "Employment and Support Allowance; Child Benefit",
)
_POLICE_INFO = (
    "MASH: police report of a domestic incident at the address; no further action",
    "Caution for possession of a controlled drug",
    "Non-molestation order in force against a former partner",
    "MASH: police attended following a report of a child left alone",
)
_NEEDS = (
    "housing and overcrowding",
    "managing behaviour at home",
    "debt and benefits",
    "getting back into work",
    "school attendance",
    "low mood and isolation",
    "support after domestic abuse",
    "sleep and routines",
    "speech and language",
    "parenting a teenager",
    "childcare so a parent can work",
)
