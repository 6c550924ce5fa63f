"""Domain tables: users, enterprises, petitions, notifications, calendar overrides."""
from workflows.models.attachment import Attachment
from workflows.models.calendar_override import CalendarOverride
from workflows.models.conference import Conference, ConferenceEnterprise
from workflows.models.enterprise import Enterprise
from workflows.models.notification import Notification
from workflows.models.petition import Petition, TrackingCounter
from workflows.models.portal import EmailVerification, PetitionSource
from workflows.models.publication import Open311Client, PublishedAnswer
from workflows.models.security import RateEvent, WebSession
from workflows.models.user import User

__all__ = ["Attachment", "CalendarOverride", "Conference", "ConferenceEnterprise", "EmailVerification", "Enterprise",
           "Notification", "Open311Client", "Petition", "PetitionSource", "PublishedAnswer", "RateEvent",
           "TrackingCounter", "User", "WebSession"]
