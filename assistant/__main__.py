from assistant.cli import main

if __name__ == "__main__":  # not when a worker process (a Dask cluster's) imports it again
    main()
