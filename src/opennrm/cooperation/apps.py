from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CooperationConfig(AppConfig):
    name = "opennrm.cooperation"
    label = "cooperation"
    verbose_name = _("Cross-border cooperation")

    def ready(self) -> None:
        from django.conf import settings

        from opennrm.cases import identity
        from opennrm.cases.views import case as timeline
        from opennrm.cooperation import hub, linkage_service, messaging, panels, transnational, views_linkage
        from opennrm.cooperation.demo import build_demo_cooperation
        from opennrm.cooperation.models import MessageType
        from opennrm.cooperation.tasks import deliver_outbox, prune_rejections, submit_statistics
        from opennrm.core import demo, scheduler
        from opennrm.core.panels import register

        # Delivery of the outbox (also queued after each commit), and retention of refused messages.
        scheduler.every(minutes=1, task=deliver_outbox)
        scheduler.every(minutes=24 * 60, task=prune_rejections)

        # What each message type does when it arrives.
        transnational.register_handlers()
        messaging.register_handler(MessageType.LINKAGE_QUERY, linkage_service.answer_query)
        messaging.register_handler(MessageType.LINKAGE_RESULT, linkage_service.receive_result)
        messaging.register_handler(MessageType.STATS_SUBMISSION, hub.receive_submission)

        # Record linkage: a person's encoding follows their identity (cases calls its hooks, never imports us).
        if linkage_service.encode_person not in identity.person_indexed_hooks:
            identity.person_indexed_hooks.append(linkage_service.encode_person)

        # This instance's periodic statistics submissions to its regional hub.
        if settings.OPENNRM_COOP_HUB:
            scheduler.every(minutes=settings.OPENNRM_COOP_STATS_MINUTES, task=submit_statistics)

        # The demo's cross-border cooperation, after the cases, inspections and shelters (`load_demo`).
        demo.register("cooperation", build_demo_cooperation, order=40)

        # Panels on the case page and the home page, and the timeline's sentences for cooperation events.
        register("case_detail", panels.case_panel)
        register("case_detail", views_linkage.case_panel)
        register("home", panels.home_panel)
        for describe in (panels.describe_event, views_linkage.describe_event):
            if describe not in timeline.event_describers:
                timeline.event_describers.append(describe)
