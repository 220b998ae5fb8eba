from django.contrib.auth.models import User
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView
import json


@csrf_exempt
def register(request):
    body = json.loads(request.body)
    User.objects.create_user(username=body["username"], password=body["password"])
    return JsonResponse({"ok": True}, status=201)


urlpatterns = [
    path("register", register),
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/token/refresh/", TokenRefreshView.as_view()),
]
