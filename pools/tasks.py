from celery import shared_task


@shared_task
def purge_expired_mappings() -> int:
    from pools.services.selection import mappings_purge_expired

    return mappings_purge_expired()
