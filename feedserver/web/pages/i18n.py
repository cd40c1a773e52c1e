"""The web app's languages: English (the message ids themselves) and French.

The language of a page is the person's setting, else the browser's Accept-Language, else
``[web] default_language``. Templates call ``_("...")`` with the English text.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = {"en": "English", "fr": "Français"}  # the pages' languages
# A person's language: the pages' when they have it, emails in all four.
PERSON_LANGUAGES = {**LANGUAGES, "de": "Deutsch (e-mails)", "es": "Español (e-mails)"}

FRENCH: dict[str, str] = {
    "Sign in": "Se connecter",
    "Email": "E-mail",
    "Password": "Mot de passe",
    "Forgot password?": "Mot de passe oublié ?",
    "Wrong email or password.": "E-mail ou mot de passe incorrect.",
    "Too many attempts. Try again in a few minutes.": (
        "Trop de tentatives. Réessayez dans quelques minutes."
    ),
    "Sign out": "Se déconnecter",
    "Calendar links": "Liens d'agenda",
    "Devices": "Appareils",
    "Notifications": "Notifications",
    "Profile": "Profil",
    "Bookings": "Réservations",
    "Locations": "Lieux",
    "Reservation types": "Types de réservation",
    "People": "Personnes",
    "Feed links": "Liens de flux",
    "Templates": "Modèles",
    "Inbox": "Boîte de réception",
    "Outbox": "Boîte d'envoi",
    "Webhooks": "Webhooks",
    "Webhook": "Webhook",
    "Booking systems hear of every change here: feedserver POSTs each event, signed "
    "(Standard Webhooks), to the endpoints below.": (
        "Les logiciels de réservation apprennent ici chaque changement : feedserver envoie "
        "chaque événement, signé (Standard Webhooks), aux adresses ci-dessous."
    ),
    "Events and payloads": "Événements et contenus",
    "The endpoint's secret, shown this once:": (
        "Le secret de l'adresse, montré cette fois seulement :"
    ),
    "Keep it in the receiving system: it verifies each delivery's webhook-signature.": (
        "Gardez-le dans le système qui reçoit : il vérifie la webhook-signature de chaque envoi."
    ),
    "The new secret, shown this once:": "Le nouveau secret, montré cette fois seulement :",
    "Deliveries are signed with both secrets for 24 hours.": (
        "Les envois sont signés avec les deux secrets pendant 24 heures."
    ),
    "Events": "Événements",
    "Events (none checked: all)": "Événements (aucun coché : tous)",
    "all": "tous",
    "enabled": "actif",
    "paused": "en pause",
    "Deliveries": "Envois",
    "Add an endpoint": "Ajouter une adresse",
    "Send a test event": "Envoyer un événement de test",
    "Pause": "Mettre en pause",
    "Resume": "Reprendre",
    "New secret": "Nouveau secret",
    "Make a new secret? The old one keeps signing for 24 hours.": (
        "Créer un nouveau secret ? L'ancien signe encore pendant 24 heures."
    ),
    "Delete this endpoint and its deliveries?": "Supprimer cette adresse et ses envois ?",
    "Event": "Événement",
    "Send again": "Renvoyer",
    "Delete": "Supprimer",
    "next": "prochain",
    "Older": "Plus anciens",
    "Show": "Afficher",
    "Online meetings": "Réunions en ligne",
    "Name": "Nom",
    "Create link": "Créer le lien",
    "Subscribe": "S'abonner",
    "Add to Google Calendar": "Ajouter à Google Agenda",
    "Add to Outlook": "Ajouter à Outlook",
    "Outlook (work or school)": "Outlook (professionnel ou scolaire)",
    "Copy": "Copier",
    "Copied": "Copié",
    "Rotate": "Renouveler",
    "Revoke": "Révoquer",
    "Never fetched yet.": "Jamais consulté pour l'instant.",
    "Last fetched": "Dernière consultation",
    "by": "par",
    "Scan with your phone's camera to subscribe.": (
        "Scannez avec l'appareil photo de votre téléphone pour vous abonner."
    ),
    "Your links": "Vos liens",
    "New link": "Nouveau lien",
    "You have no calendar link yet.": "Vous n'avez pas encore de lien d'agenda.",
    "Reservation types (none ticked: all)": "Types de réservation (aucun coché : tous)",
    "Locations (none ticked: all)": "Lieux (aucun coché : tous)",
    "Staff members (none ticked: all)": "Membres du personnel (aucun coché : tous)",
    "Include pending bookings": "Inclure les réservations en attente",
    "Show attendees": "Afficher les participants",
    'Free/busy only ("Busy" events, no titles, places or people: for partners)': (
        "Occupé/libre seulement (événements « Occupé », sans titres, lieux ni personnes : "
        "pour des partenaires)"
    ),
    "Whole organisation (not only my bookings)": (
        "Toute l'organisation (pas seulement mes réservations)"
    ),
    "Rotate this link? Calendars subscribed to the old one stop updating.": (
        "Renouveler ce lien ? Les agendas abonnés à l'ancien ne seront plus mis à jour."
    ),
    "Revoke this link? It stops working at once.": (
        "Révoquer ce lien ? Il cesse de fonctionner immédiatement."
    ),
    "Revoked": "Révoqué",
    "The link was created.": "Le lien a été créé.",
    "The link was rotated: subscribe again with the new address.": (
        "Le lien a été renouvelé : abonnez-vous de nouveau avec la nouvelle adresse."
    ),
    "The link was revoked.": "Le lien a été révoqué.",
    "Device name": "Nom de l'appareil",
    "Create app password": "Créer un mot de passe d'application",
    "Your devices": "Vos appareils",
    "No device yet.": "Aucun appareil pour l'instant.",
    "Created": "Créé",
    "Last used": "Dernière utilisation",
    "never": "jamais",
    "Revoke this app password? The device stops syncing.": (
        "Révoquer ce mot de passe d'application ? L'appareil ne se synchronisera plus."
    ),
    "App password for": "Mot de passe d'application pour",
    "It is shown only now: enter it on the device, then leave this page.": (
        "Il n'est affiché que maintenant : saisissez-le sur l'appareil, puis quittez cette page."
    ),
    "Server": "Serveur",
    "User name": "Nom d'utilisateur",
    "Download the configuration profile": "Télécharger le profil de configuration",
    "iPhone, iPad": "iPhone, iPad",
    "Mac": "Mac",
    "Android (DAVx⁵)": "Android (DAVx⁵)",
    "Thunderbird": "Thunderbird",
    "Connect a phone or a calendar app with CalDAV: it sees your bookings and your own "
    "calendars.": (
        "Connectez un téléphone ou une application d'agenda en CalDAV : elle voit vos "
        "réservations et vos propres agendas."
    ),
    "Open the profile on the iPhone or iPad, then Settings › Profile Downloaded › Install. "
    "It asks for the app password.": (
        "Ouvrez le profil sur l'iPhone ou l'iPad, puis Réglages › Profil téléchargé › Installer. "
        "Il demande le mot de passe d'application."
    ),
    "System Settings › Internet Accounts › Add Other Account › CalDAV account; account type "
    "Manual; enter the user name, the app password and the server.": (
        "Réglages Système › Comptes Internet › Ajouter un autre compte › Compte CalDAV ; type "
        "Manuel ; saisissez le nom d'utilisateur, le mot de passe d'application et le serveur."
    ),
    "In DAVx⁵: + › Login with URL and user name; enter the server, the user name and the app "
    "password.": (
        "Dans DAVx⁵ : + › Connexion avec URL et nom d'utilisateur ; saisissez le serveur, le nom "
        "d'utilisateur et le mot de passe d'application."
    ),
    "New Calendar › On the Network; enter the user name and the server, then the app password "
    "when asked.": (
        "Nouvel agenda › Sur le réseau ; saisissez le nom d'utilisateur et le serveur, puis le "
        "mot de passe d'application quand il est demandé."
    ),
    "Email me when": "M'envoyer un e-mail quand",
    "a booking is made": "une réservation est faite",
    "a booking is cancelled": "une réservation est annulée",
    "a booking is rejected": "une réservation est refusée",
    "a booking is made less than an hour before it starts": (
        "une réservation est faite moins d'une heure avant son début"
    ),
    "a booking is moved or changed": "une réservation est déplacée ou modifiée",
    "a booking is coming up (reminders)": "une réservation approche (rappels)",
    "Save": "Enregistrer",
    "Saved.": "Enregistré.",
    "Time zone": "Fuseau horaire",
    "Language": "Langue",
    "Browser's choice": "Choix du navigateur",
    "Change password": "Changer le mot de passe",
    "Current password": "Mot de passe actuel",
    "New password": "Nouveau mot de passe",
    "New password again": "Nouveau mot de passe (encore)",
    "The password was changed; your other sessions were signed out.": (
        "Le mot de passe a été changé ; vos autres sessions ont été déconnectées."
    ),
    "The current password is wrong.": "Le mot de passe actuel est incorrect.",
    "Send me a link": "M'envoyer un lien",
    "Enter your email: if it belongs to an account, a link to set a new password is on its "
    "way. It works once, for a limited time.": (
        "Saisissez votre e-mail : s'il correspond à un compte, un lien pour choisir un nouveau "
        "mot de passe va arriver. Il ne fonctionne qu'une fois, pendant une durée limitée."
    ),
    "If this email belongs to an account, a link is on its way.": (
        "Si cet e-mail correspond à un compte, un lien est en route."
    ),
    "Set your password": "Choisissez votre mot de passe",
    "Set password": "Enregistrer le mot de passe",
    "This link is no longer valid: it was used, or it expired. Ask for a new one.": (
        "Ce lien n'est plus valable : il a déjà servi ou il a expiré. Demandez-en un nouveau."
    ),
    "Your password is set. Welcome!": "Votre mot de passe est enregistré. Bienvenue !",
    "Back to sign in": "Retour à la connexion",
    "This page is for admins.": "Cette page est réservée aux administrateurs.",
    "Forbidden": "Interdit",
    "Not found": "Introuvable",
    "Bad request": "Requête incorrecte",
    "The browser sent something this page cannot read.": (
        "Le navigateur a envoyé quelque chose que cette page ne sait pas lire."
    ),
    "You are not allowed to do this.": "Vous n'avez pas le droit de faire cela.",
    "Not allowed": "Non permis",
    "This page cannot be used that way.": "Cette page ne s'utilise pas ainsi.",
    "Conflict": "Conflit",
    "This clashes with something that changed in the meantime.": (
        "Cela entre en conflit avec une modification faite entre-temps."
    ),
    "Too large": "Trop volumineux",
    "What was sent is larger than this server accepts.": (
        "L'envoi dépasse la taille acceptée par ce serveur."
    ),
    "Not accepted": "Non accepté",
    "Some of what was entered cannot be used.": (
        "Une partie de la saisie ne peut pas être utilisée."
    ),
    "Too many attempts": "Trop de tentatives",
    "Something went wrong": "Une erreur est survenue",
    "Something went wrong on our side. Nothing was changed; try again later.": (
        "Une erreur est survenue de notre côté. Rien n'a été modifié ; réessayez plus tard."
    ),
    "Back to your calendar links": "Retour à vos liens d'agenda",
    "The page does not exist, or it is not yours.": (
        "La page n'existe pas, ou elle n'est pas à vous."
    ),
    "The form expired or came from another site. Reload the page and try again.": (
        "Le formulaire a expiré ou vient d'un autre site. Rechargez la page et réessayez."
    ),
    "Main navigation": "Navigation principale",
    "Administration": "Administration",
    "From": "Du",
    "To": "Au",
    "Location": "Lieu",
    "Type": "Type",
    "Staff": "Personnel",
    "Status": "Statut",
    "any": "tous",
    "Filter": "Filtrer",
    "When": "Quand",
    "Title": "Titre",
    "Attendees": "Participants",
    "Edit": "Modifier",
    "Previous": "Précédent",
    "Next": "Suivant",
    "No booking matches.": "Aucune réservation ne correspond.",
    "New booking": "Nouvelle réservation",
    "Start": "Début",
    "End": "Fin",
    "Notes": "Notes",
    "Confirm": "Confirmer",
    "Reject": "Refuser",
    "Cancel booking": "Annuler la réservation",
    "Cancel this booking? Attendees are told by email.": (
        "Annuler cette réservation ? Les participants sont prévenus par e-mail."
    ),
    "Reject this booking? Attendees are told by email.": (
        "Refuser cette réservation ? Les participants sont prévenus par e-mail."
    ),
    "Read-only: this booking comes from a calendar invitation; change it in the organizer's "
    "calendar.": (
        "Lecture seule : cette réservation vient d'une invitation d'agenda ; modifiez-la dans "
        "l'agenda de l'organisateur."
    ),
    "Attendee emails, one a line": "E-mails des participants, un par ligne",
    "Week of": "Semaine du",
    "Week view": "Vue semaine",
    "List": "Liste",
    "Code": "Code",
    "Address": "Adresse",
    "Add": "Ajouter",
    "Duration (minutes)": "Durée (minutes)",
    "Buffer before (minutes)": "Battement avant (minutes)",
    "Buffer after (minutes)": "Battement après (minutes)",
    "Online meeting": "Réunion en ligne",
    "Online, and also at the location": "En ligne, et aussi sur place",
    "Reminders (minutes before, who; empty: the default)": (
        "Rappels (minutes avant, destinataires ; vide : par défaut)"
    ),
    "Attendees see the title": "Les participants voient le titre",
    "Role": "Rôle",
    "admin": "admin",
    "staff": "personnel",
    "customer": "client",
    "Invite": "Inviter",
    "Send a password link": "Envoyer un lien de mot de passe",
    "The invitation is on its way.": "L'invitation est en route.",
    "The password link is on its way.": "Le lien de mot de passe est en route.",
    "Person": "Personne",
    "Generate link": "Générer le lien",
    "Received": "Reçu",
    "Source": "Source",
    "Reason": "Raison",
    "Retry": "Réessayer",
    "Nothing here.": "Rien ici.",
    "Recipient": "Destinataire",
    "Subject": "Objet",
    "Attempts": "Tentatives",
    "Download CSV": "Télécharger le CSV",
    "Clicks": "Clics",
    "Meeting": "Réunion",
    "Feed template": "Modèle de flux",
    "Summary": "Résumé",
    "Description": "Description",
    "Preview": "Aperçu",
    "Default for every type": "Par défaut pour tous les types",
    "Email templates": "Modèles d'e-mails",
    "Variables": "Variables",
    "Welcome": "Bienvenue",
    "Sign in with the bootstrap admin token to create the first admin account.": (
        "Connectez-vous avec le jeton d'administration initial pour créer le premier compte "
        "administrateur."
    ),
    "Admin token": "Jeton d'administration",
    "Create the first admin account": "Créer le premier compte administrateur",
    "Skip to content": "Aller au contenu",
    "Back": "Retour",
    "Availability": "Disponibilités",
    "Calendar accounts": "Comptes d'agenda",
    "My calendar accounts": "Mes comptes d'agenda",
    "Connect the calendar you already use and your bookings are written into it within "
    "seconds. A calendar link (subscription) is read by Google, Outlook or Apple only every "
    "few hours.": (
        "Connectez l'agenda que vous utilisez déjà : vos réservations y sont écrites en "
        "quelques secondes. Un lien d'agenda (abonnement) n'est relu par Google, Outlook ou "
        "Apple que toutes les quelques heures."
    ),
    "Connected. Your bookings are being written into the calendar.": (
        "Connecté. Vos réservations sont en cours d'écriture dans l'agenda."
    ),
    "Writes into": "Écrit dans",
    "busy times read from it": "ses créneaux occupés sont lus",
    "working": "fonctionne",
    "retrying": "nouvel essai prévu",
    "failing": "en échec",
    "Events written": "Événements écrits",
    "Waiting": "En attente",
    "Last written": "Dernière écriture",
    "What happened": "Historique",
    "edit_replaced": "votre modification a été remplacée",
    "edit_removed": "votre modification a été supprimée",
    "removed": "événement retiré",
    "refused": "refusé par le serveur",
    "error": "erreur",
    "booking": "réservation",
    "Resync now": "Resynchroniser",
    "Disconnect and remove the events written": "Déconnecter et retirer les événements écrits",
    "Disconnect, keep the events": "Déconnecter, garder les événements",
    "Disconnect this account and remove the events feedserver wrote into it? Your own events "
    "stay.": (
        "Déconnecter ce compte et retirer les événements que feedserver y a écrits ? Vos "
        "propres événements restent."
    ),
    "Disconnect this account? The events written stay, and are no longer updated.": (
        "Déconnecter ce compte ? Les événements écrits restent et ne sont plus mis à jour."
    ),
    "Disconnect": "Déconnecter",
    "New password (app-specific password)": "Nouveau mot de passe (mot de passe d'application)",
    "Save and try again": "Enregistrer et réessayer",
    "Connect a calendar account": "Connecter un compte d'agenda",
    "Account": "Compte",
    "Other CalDAV server": "Autre serveur CalDAV",
    "iCloud: use an app-specific password (appleid.apple.com, Sign-In and Security). "
    "Nextcloud: https://your-server/remote.php/dav.": (
        "iCloud : utilisez un mot de passe pour application (appleid.apple.com, Connexion et "
        "sécurité). Nextcloud : https://votre-serveur/remote.php/dav."
    ),
    "Server address (empty for iCloud and Fastmail)": (
        "Adresse du serveur (vide pour iCloud et Fastmail)"
    ),
    "User name (the account's email)": "Nom d'utilisateur (l'e-mail du compte)",
    "Name (optional)": "Nom (facultatif)",
    "Calendar to write into (empty: a new one named after us)": (
        "Agenda où écrire (vide : un nouvel agenda à notre nom)"
    ),
    "for example Work": "par exemple Travail",
    "Which bookings": "Quelles réservations",
    "None ticked: every type.": "Aucune cochée : tous les types.",
    "Pending bookings too": "Aussi les réservations en attente",
    "Attendees named in the events (never invited)": (
        "Participants nommés dans les événements (jamais invités)"
    ),
    "Also read this account for the times I am busy": (
        "Lire aussi ce compte pour mes créneaux occupés"
    ),
    "Connect": "Connecter",
    "Connect Google Calendar": "Connecter Google Agenda",
    "Working hours": "Heures de travail",
    "My calendars": "Mes agendas",
    "Your own calendars (for example Google's secret address in iCal format): only the times "
    "you are busy are read, and no booking is offered then.": (
        "Vos propres agendas (par exemple l'adresse secrète au format iCal de Google) : seuls "
        "vos horaires occupés sont lus, et aucune réservation n'est proposée à ces moments."
    ),
    "Calendar address (URL)": "Adresse de l'agenda (URL)",
    "CalDAV user name (CalDAV accounts only)": (
        "Nom d'utilisateur CalDAV (comptes CalDAV seulement)"
    ),
    "CalDAV password (app password)": "Mot de passe CalDAV (mot de passe d'application)",
    "Busy times": "Horaires occupés",
    "Last read": "Dernière lecture",
    "Actions": "Actions",
    "Read now": "Lire maintenant",
    "Remove": "Retirer",
    "Remove this calendar? Its busy times are forgotten.": (
        "Retirer cet agenda ? Ses horaires occupés sont oubliés."
    ),
    "This page is for staff members.": "Cette page est réservée au personnel.",
    "Monday": "lundi",
    "Tuesday": "mardi",
    "Wednesday": "mercredi",
    "Thursday": "jeudi",
    "Friday": "vendredi",
    "Saturday": "samedi",
    "Sunday": "dimanche",
    "Nothing was saved: see the messages below.": (
        "Rien n'a été enregistré : voir les messages ci-dessous."
    ),
    "When can people book you?": "Quand peut-on vous réserver ?",
    "Always available": "Toujours disponible",
    "Only during my working hours": "Seulement pendant mes heures de travail",
    "A day with no hours is not worked. Add a row for each part of the day, for example 09:00 "
    "to 12:00 and 13:00 to 17:00 around a lunch break.": (
        "Un jour sans heures n'est pas travaillé. Ajoutez une ligne par partie de la journée, "
        "par exemple de 09:00 à 12:00 et de 13:00 à 17:00 autour de la pause déjeuner."
    ),
    "Add hours": "Ajouter des heures",
    "Holidays and other days": "Congés et autres jours",
    "A date without times is not worked; with times, they replace that weekday's hours.": (
        "Une date sans heures n'est pas travaillée ; avec des heures, elles remplacent celles "
        "de ce jour de la semaine."
    ),
    "Date": "Date",
    "Add a date": "Ajouter une date",
    "You entered working hours but chose “Always available”: choose “Only during my working "
    "hours” to keep them, or clear them.": (
        "Vous avez saisi des heures de travail mais choisi « Toujours disponible » : choisissez "
        "« Seulement pendant mes heures de travail » pour les garder, ou effacez-les."
    ),
    "{day}, hours {n}: give both a start and an end": (
        "{day}, heures {n} : indiquez un début et une fin"
    ),
    "Exception {n}: which date?": "Exception {n} : quelle date ?",
    "{date}: give both a start and an end, or neither (not worked)": (
        "{date} : indiquez un début et une fin, ou aucun des deux (non travaillé)"
    ),
    "{day}, hours {n}: {problem}": "{day}, heures {n} : {problem}",
    "{day}: {problem}": "{day} : {problem}",
    "{date}: {problem}": "{date} : {problem}",
    "Choose a time zone from the list.": "Choisissez un fuseau horaire dans la liste.",
    "the end must come after the start": "la fin doit venir après le début",
    "two ranges overlap": "deux plages se chevauchent",
    "times are HH:MM": "les heures s'écrivent HH:MM",
    "Search time zones": "Chercher un fuseau horaire",
    "Search: city or country": "Chercher : ville ou pays",
    "Yours": "Le vôtre",
    "Europe": "Europe",
    "America": "Amérique",
    "Africa": "Afrique",
    "Asia": "Asie",
    "Australia": "Australie",
    "Pacific": "Pacifique",
    "Atlantic": "Atlantique",
    "Indian": "Océan Indien",
    "Antarctica": "Antarctique",
    "Arctic": "Arctique",
    "All types": "Tous les types",
    "All locations": "Tous les lieux",
    "with {names}": "avec {names}",
    "whole organisation": "toute l'organisation",
    "with pending": "avec les demandes en attente",
    "with cancelled": "avec les annulées",
    "attendees shown": "participants affichés",
    "free/busy only": "libre/occupé seulement",
    "Change what it shows": "Changer ce qu'il montre",
    "The address stays the same: subscribed calendars show the change at their next refresh.": (
        "L'adresse reste la même : les agendas abonnés montrent le changement à leur prochaine "
        "actualisation."
    ),
    "Save changes": "Enregistrer les changements",
    "A calendar link puts your bookings in the calendar you already use (Apple, Google, "
    "Outlook, a phone): subscribe once, and new bookings, changes and cancellations appear "
    "there by themselves. Choose below what it shows.": (
        "Un lien d'agenda met vos réservations dans l'agenda que vous utilisez déjà (Apple, "
        "Google, Outlook, un téléphone) : abonnez-vous une fois, et les nouvelles réservations, "
        "les changements et les annulations y apparaissent d'eux-mêmes. Choisissez ci-dessous "
        "ce qu'il montre."
    ),
    "Attendee (name or email)": "Participant (nom ou e-mail)",
    "From {day}, in your time zone.": "À partir du {day}, dans votre fuseau horaire.",
    "Show earlier bookings too": "Montrer aussi les réservations passées",
    "Every booking, the oldest first.": "Toutes les réservations, les plus anciennes d'abord.",
    "Repeats": "Se répète",
    "Day view": "Vue du jour",
    "Week of {day}": "Semaine du {day}",
    "Everyone at this location": "Tout le monde à ce lieu",
    "Dates": "Dates",
    "Today": "Aujourd'hui",
    "Previous week": "Semaine précédente",
    "Next week": "Semaine suivante",
    "Previous day": "Jour précédent",
    "Next day": "Jour suivant",
    "There is no location yet: add one on the Locations page.": (
        "Il n'y a pas encore de lieu : ajoutez-en un sur la page Lieux."
    ),
    "Nobody works at this location and nothing is booked here then.": (
        "Personne ne travaille à ce lieu et rien n'y est réservé à ce moment-là."
    ),
    "Times at {place}: {zone}": "Heures à {place} : {zone}",
    "Nothing was saved:": "Rien n'a été enregistré :",
    "the location's time": "l'heure du lieu",
    "empty: the type's length": "vide : la durée du type",
    "confirmed": "confirmée",
    "pending": "en attente",
    "cancelled": "annulée",
    "rejected": "refusée",
    "My bookings": "Mes réservations",
    "all day": "toute la journée",
    "repeats": "se répète",
    "Where": "Où",
    "With": "Avec",
    "Join the meeting": "Rejoindre la réunion",
    "Add to calendar": "Ajouter à l'agenda",
    "Times are in your time zone: {zone}.": "Les heures sont dans votre fuseau horaire : {zone}.",
    "Change": "Changer",
    "Coming up": "À venir",
    "Nothing is booked for you from now on.": (
        "Rien n'est réservé pour vous à partir de maintenant."
    ),
    "Past": "Passées",
    "Always sent to you": "Toujours envoyés",
    "These emails keep the event in your calendar right, so they come with every booking:": (
        "Ces e-mails gardent l'événement juste dans votre agenda ; ils accompagnent donc chaque "
        "réservation :"
    ),
    "a booking is made for you (with the calendar invitation)": (
        "une réservation est faite pour vous (avec l'invitation d'agenda)"
    ),
    "your booking request is received and waits for confirmation": (
        "votre demande de réservation est reçue et attend sa confirmation"
    ),
    "your booking request is confirmed": "votre demande de réservation est confirmée",
    "your booking is moved or changed": "votre réservation est déplacée ou modifiée",
    "your booking is cancelled": "votre réservation est annulée",
    "your booking request is declined": "votre demande de réservation est refusée",
    "Role of {name}": "Rôle de {name}",
    "Change role": "Changer le rôle",
    "active": "actif",
    "deactivated": "désactivé",
    "Deactivate": "Désactiver",
    "Reactivate": "Réactiver",
    "Deactivate this person? They are signed out, cannot sign in, and their calendar links "
    "and app passwords stop working until they are reactivated. Their bookings stay.": (
        "Désactiver cette personne ? Elle est déconnectée, ne peut plus se connecter, et ses "
        "liens d'agenda et mots de passe d'application cessent de fonctionner jusqu'à sa "
        "réactivation. Ses réservations restent."
    ),
    "New location": "Nouveau lieu",
    "Delete this location? It cannot be undone.": ("Supprimer ce lieu ? C'est irréversible."),
    "Deleted.": "Supprimé.",
    "New reservation type": "Nouveau type de réservation",
    "Colour": "Couleur",
    "No colour": "Sans couleur",
    "Reminders": "Rappels",
    "The organisation's default": "Ceux de l'organisation",
    "None": "Aucun",
    "These:": "Ceux-ci :",
    "Before the start": "Avant le début",
    "to": "envoyé",
    "Unit": "Unité",
    "minutes": "minutes",
    "hours": "heures",
    "days": "jours",
    "attendees": "aux participants",
    "the staff member": "au membre du personnel",
    "attendees and the staff member": "aux participants et au membre du personnel",
    "Add a reminder": "Ajouter un rappel",
    "Reminder {n}: a whole number, a unit and who is reminded": (
        "Rappel {n} : un nombre entier, une unité et qui est prévenu"
    ),
    "Add a reminder, or choose the default or none.": (
        "Ajoutez un rappel, ou choisissez ceux de l'organisation ou aucun."
    ),
    "To attendees": "Aux participants",
    "To staff members and admins": "Au personnel et aux administrateurs",
    "To organizers (calendar invitations)": "Aux organisateurs (invitations d'agenda)",
    "Account emails": "E-mails de compte",
    "A booking is made": "Une réservation est faite",
    "A booking request waits for confirmation": "Une demande de réservation attend sa confirmation",
    "A booking request is confirmed": "Une demande de réservation est confirmée",
    "A booking is moved or changed": "Une réservation est déplacée ou modifiée",
    "A booking is cancelled": "Une réservation est annulée",
    "A booking request is declined": "Une demande de réservation est refusée",
    "Reminder before a booking": "Rappel avant une réservation",
    "A booking is made at short notice": "Une réservation est faite au dernier moment",
    "An attendee declined": "Un participant a décliné",
    "The event names no known location": "L'événement ne nomme aucun lieu connu",
    "The organizer's calendar is busy then": "L'agenda de l'organisateur est occupé à ce moment",
    "Invitation to set a password": "Invitation à choisir un mot de passe",
    "Password reset": "Réinitialisation du mot de passe",
    "changed": "modifié",
    "default wording": "texte par défaut",
    "Message": "Message",
    "There is no booking yet to show this email with.": (
        "Il n'y a pas encore de réservation pour montrer cet e-mail."
    ),
    "Put this email back to its default wording? Your changes are lost.": (
        "Remettre cet e-mail à son texte par défaut ? Vos changements sont perdus."
    ),
    "Reset to default": "Revenir au texte par défaut",
    "Menu": "Menu",
    "Nothing has arrived yet.": "Rien n'est encore arrivé.",
    "The calendar bridge turns events into bookings: anyone with an account invites {address} "
    "to an event in their own calendar (Apple, Google, Outlook, Thunderbird), with a location "
    "code in its title or place, and the event becomes a booking there; its changes and "
    "cancellation follow. What arrives is kept here first, with what became of it.": (
        "Le pont d'agenda transforme des événements en réservations : toute personne ayant un "
        "compte invite {address} à un événement de son propre agenda (Apple, Google, Outlook, "
        "Thunderbird), avec un code de lieu dans son titre ou son lieu, et l'événement devient "
        "une réservation à cet endroit ; ses changements et son annulation suivent. Ce qui "
        "arrive est d'abord gardé ici, avec ce qu'il est devenu."
    ),
    "Location codes:": "Codes des lieux :",
    "The calendar bridge is off: set [bridge] invite_address (for example invite@example.org) "
    "and events that invite that address become bookings, listed here as they arrive.": (
        "Le pont d'agenda est désactivé : définissez [bridge] invite_address (par exemple "
        "invite@example.org) et les événements qui invitent cette adresse deviennent des "
        "réservations, listées ici à leur arrivée."
    ),
    "new": "nouveau",
    "ok": "ok",
    "unchanged": "inchangé",
    "accepted": "accepté",
    "declined": "décliné",
    "tentative": "peut-être",
    "needs-action": "sans réponse",
}


def translator(language: str) -> Callable[[str], str]:
    if language == "fr":
        return lambda text: FRENCH.get(text, text)
    return lambda text: text


def pick(user_language: str, accept_language: str, default: str) -> str:
    """The person's setting, else the best of en/fr in Accept-Language, else ``default``."""
    if user_language in LANGUAGES:
        return user_language
    best, best_q = "", 0.0
    for part in accept_language.split(",")[:20]:
        tag, *params = (p.strip() for p in part.split(";"))
        primary = tag.split("-")[0].lower()
        if primary not in LANGUAGES:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > best_q:
            best, best_q = primary, quality
    return best or default
