import time, pytest
from opennrm.referrals.tests.factories import scenario
from opennrm.accounts.tests.factories import member
from opennrm.accounts.roles import Role

@pytest.mark.django_db
def test_prof():
    t=time.time(); m=member(Role.ANALYST); print("member", time.time()-t)
    t=time.time(); s=scenario(); print("scenario", time.time()-t)
    t=time.time(); r=s.refer(); print("refer", time.time()-t)
