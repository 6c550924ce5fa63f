"""English messages raised by the portal's workflows modules, marked so that `pybabel extract` finds them.

The workflows layer stays free of Flask-Babel: enterprises, intake, attachments, conferences, publication
and Open311 raise these fixed texts, and the web layer translates them when it shows them.
"""
from __future__ import annotations

from webapp.messages import N_

PORTAL_MESSAGES = (
    # workflows.enterprises
    N_("A tax code has 10 digits, or 13 for a branch (e.g. 0101234567 or 0101234567-001)."),
    N_("The e-mail address is not valid."),
    N_("This enterprise already has an account: ask one of its users to invite you."),
    N_("This tax code is already known to the Board: register with the contact e-mail on record, or ask the "
       "one-stop desk to open your account."),
    N_("This e-mail address is already used by an account."),
    N_("This link is not valid or has expired."),
    N_("This invitation has already been used."),
    # workflows.attachments
    N_("A file may not be larger than 10 MB."),
    N_("This type of file is not accepted: send PDF, DOC, DOCX, XLS, XLSX, JPG or PNG."),
    N_("The content of the file does not match its type."),
    N_("The file is empty."),
    N_("A petition may have at most 10 files."),
    N_("The files of a petition may not exceed 30 MB in total."),
    N_("no such attachment"),
    # workflows.intake
    N_("A paper letter needs its incoming document number."),
    N_("A paper letter needs the date of its incoming document."),
    N_("The date cannot be in the future."),
    N_("Choose the conference where the petition was raised."),
    N_("a similar petition was sent recently"),
    # workflows.conferences
    N_("Use 3 to 40 capital letters, digits or '-', e.g. HOINGHI-20251218."),
    N_("This code is already used."),
    N_("no conference has this code"),
    N_("The file cannot be read: send an XLSX or CSV file with a header row."),
    N_("The file lacks the columns: tax code, zone, title and content are required."),
    N_("The file has too many rows (at most 500)."),
    N_("The file is too large (at most 5 MB)."),
    N_("The tax code must have 10 or 13 digits."),
    N_("The enterprise name is required for a tax code not yet known."),
    N_("Unknown zone."),
    N_("The title is required."),
    N_("The title is too long (at most 500 characters)."),
    N_("The content is required."),
    N_("The content is too long."),
    N_("Unknown category."),
    N_("The same petition appears twice (see line %(line)s)."),
    N_("the import file has expired; upload it again"),
    # workflows.publication
    N_("Only a petition whose answer has been sent can be published."),
    N_("Complaints and denunciations are never published."),
    N_("this answer is not published"),
    N_("no published answer has this number"),
)
