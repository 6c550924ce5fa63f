"""Domain tables: users, enterprises, petitions."""
from workflows.models.enterprise import Enterprise
from workflows.models.petition import Petition, TrackingCounter
from workflows.models.user import User

__all__ = ["Enterprise", "Petition", "TrackingCounter", "User"]
