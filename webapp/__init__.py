"""The web app for the people who upload videos (static files served with a strict security policy), and the
one-origin gateway that `framepipe dev` runs in front of the services."""
