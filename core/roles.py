"""The roles a user may hold (Django groups of these names); ``core.policy`` grants by them."""


class Roles:
    ADMIN = "admin"
    REVIEWER = "reviewer"
    ANNOTATOR = "annotator"
    ML_ENGINEER = "ml_engineer"
    ALL = (ADMIN, REVIEWER, ANNOTATOR, ML_ENGINEER)
