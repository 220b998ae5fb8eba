"""flask-jwt-extended doing the same flow as Tessera's refresh: the refresh token rotates and the
spent one is blocklisted in SQLite. Run by gunicorn with 2 workers on 127.0.0.1 only."""
import os
import sqlite3

from flask import Flask, jsonify, request
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token, get_jwt, get_jwt_identity, jwt_required
from werkzeug.security import check_password_hash, generate_password_hash

app = Flask(__name__)
app.config["JWT_SECRET_KEY"] = os.environ.get("PEER_SECRET", "bench-only-secret-not-for-production-0123456789")
jwt = JWTManager(app)
DB = os.environ.get("PEER_DB", "/tmp/flaskpeer.sqlite3")


def db():
    conn = sqlite3.connect(DB, timeout=20)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


with db() as c:
    c.execute("CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, hash TEXT NOT NULL)")
    c.execute("CREATE TABLE IF NOT EXISTS spent (jti TEXT PRIMARY KEY)")


@jwt.token_in_blocklist_loader
def spent(_header, payload):
    with db() as c:
        return c.execute("SELECT 1 FROM spent WHERE jti = ?", (payload["jti"],)).fetchone() is not None


@app.post("/register")
def register():
    body = request.get_json()
    with db() as c:
        c.execute("INSERT INTO users VALUES (?, ?)", (body["username"], generate_password_hash(body["password"])))
    return jsonify(ok=True), 201


@app.post("/login")
def login():
    body = request.get_json()
    with db() as c:
        row = c.execute("SELECT hash FROM users WHERE name = ?", (body["username"],)).fetchone()
    if not row or not check_password_hash(row[0], body["password"]):
        return jsonify(error="invalid"), 401
    return jsonify(access=create_access_token(identity=body["username"]), refresh=create_refresh_token(identity=body["username"]))


@app.post("/refresh")
@jwt_required(refresh=True)
def refresh():
    with db() as c:
        c.execute("INSERT INTO spent VALUES (?)", (get_jwt()["jti"],))
    who = get_jwt_identity()
    return jsonify(access=create_access_token(identity=who), refresh=create_refresh_token(identity=who))
