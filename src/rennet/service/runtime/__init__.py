"""What one worker process keeps for its requests: page cache, downloads, open blobs, access times, logins."""
