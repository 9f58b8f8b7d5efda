from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CooperationConfig(AppConfig):
    name = "opennrm.cooperation"
    label = "cooperation"
    verbose_name = _("Cross-border cooperation")

    def ready(self) -> None:
        from opennrm.cooperation.tasks import deliver_outbox, prune_rejections
        from opennrm.core import scheduler

        scheduler.every(minutes=1, task=deliver_outbox)
        scheduler.every(minutes=24 * 60, task=prune_rejections)

        from opennrm.cases import identity
        from opennrm.cases.views import case as case_views
        from opennrm.cooperation import linkage_service, messaging, views_linkage
        from opennrm.cooperation.models import MessageType
        from opennrm.core.panels import register

        if linkage_service.encode_person not in identity.person_indexed_hooks:
            identity.person_indexed_hooks.append(linkage_service.encode_person)
        messaging.register_handler(MessageType.LINKAGE_QUERY, linkage_service.answer_query)
        messaging.register_handler(MessageType.LINKAGE_RESULT, linkage_service.receive_result)
        register("case_detail", views_linkage.case_panel)
        if views_linkage.describe_event not in case_views.event_describers:
            case_views.event_describers.append(views_linkage.describe_event)

        # The regional hub: its inbox handler, and this instance's periodic submissions to its hub.
        from django.conf import settings

        from opennrm.cooperation import hub
        from opennrm.cooperation import messaging as hub_messaging
        from opennrm.cooperation.models import MessageType as HubMessageType
        from opennrm.cooperation.tasks import submit_statistics

        hub_messaging.register_handler(HubMessageType.STATS_SUBMISSION, hub.receive_submission)
        if settings.OPENNRM_COOP_HUB:
            scheduler.every(minutes=settings.OPENNRM_COOP_STATS_MINUTES, task=submit_statistics)

        # Transnational referrals: their inbox handlers, the case-page and home panels, the timeline sentences.
        from opennrm.cases.views import case as timeline
        from opennrm.cooperation import panels as transnational_panels
        from opennrm.cooperation import transnational
        from opennrm.core import panels as page_panels

        transnational.register_handlers()
        page_panels.register("case_detail", transnational_panels.case_panel)
        page_panels.register("home", transnational_panels.home_panel)
        if transnational_panels.describe_event not in timeline.event_describers:
            timeline.event_describers.append(transnational_panels.describe_event)
