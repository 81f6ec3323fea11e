from celery import shared_task


@shared_task
def purge_expired_mappings() -> int:
    from pools.sender import mappings_purge_expired

    return mappings_purge_expired()
