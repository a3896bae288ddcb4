from rightsflow.console.server import main

main()
