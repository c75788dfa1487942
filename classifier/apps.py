from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ClassifierConfig(AppConfig):
    name = "classifier"
    verbose_name = "Classifier"

    def ready(self) -> None:
        from accounts.models import ResidentNeed, ResidentProfile
        from accounts.signals import user_erased
        from alerts.models import CitizenReport, Reply
        from classifier import receivers

        post_save.connect(receivers.reply_saved, sender=Reply, dispatch_uid="classifier.reply_saved")
        post_delete.connect(receivers.source_deleted, sender=Reply, dispatch_uid="classifier.reply_deleted")
        post_delete.connect(receivers.source_deleted, sender=CitizenReport, dispatch_uid="classifier.report_deleted")
        post_save.connect(receivers.need_saved, sender=ResidentNeed, dispatch_uid="classifier.need_saved")
        post_delete.connect(receivers.need_deleted, sender=ResidentNeed, dispatch_uid="classifier.need_deleted")
        post_save.connect(receivers.profile_saved, sender=ResidentProfile, dispatch_uid="classifier.profile_saved")
        user_erased.connect(receivers.user_erased, dispatch_uid="classifier.user_erased")
