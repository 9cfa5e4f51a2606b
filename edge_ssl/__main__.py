from edge_ssl.cli import main

main()
