"""Object storage: buckets named `name@REGION`, objects listed like `ovhai bucket object list`."""
